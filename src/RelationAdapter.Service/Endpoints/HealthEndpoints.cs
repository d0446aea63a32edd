using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Jobs;

namespace RelationAdapter.Service.Endpoints;

/// <summary>Kubernetes probes: /healthz (the process answers), /readyz (weights loaded and the worker running).</summary>
public static class HealthEndpoints
{
    public const string LivePath = "/healthz", ReadyPath = "/readyz";

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet(LivePath, () => TypedResults.Ok(new HealthView("alive")))
            .WithTags("Health").WithName("Live").WithSummary("Liveness: the process answers.");

        app.MapGet(ReadyPath, (ModelHost host, JobQueue queue) =>
            {
                var ready = host is { State: ModelState.Ready, WorkerAlive: true };
                var view = new ReadinessView(ready ? "ready" : host.State == ModelState.Failed ? "failed" : host.State == ModelState.Loading ? "loading" : "worker-stopped",
                    host.Models?.Description, host.Models?.IsPlaceholder ?? false,
                    host.Models?.IsPlaceholder == true ? "tiny preset: a random model, its images are meaningless" : null,
                    host.LoadError, queue.Depth);
                return ready ? Results.Ok(view) : Results.Json(view, statusCode: StatusCodes.Status503ServiceUnavailable);
            })
            .WithTags("Health").WithName("Ready").WithSummary("Readiness: weights loaded and the worker alive.")
            .Produces<ReadinessView>().Produces<ReadinessView>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }
}
