using Microsoft.AspNetCore.Http.HttpResults;
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

        app.MapGet(ReadyPath, Results<Ok<ReadinessView>, JsonHttpResult<ReadinessView>> (ModelHost host, JobQueue queue) =>
            {
                var ready = host is { State: ModelState.Ready, WorkerAlive: true };
                var view = new ReadinessView(ready ? "ready" : host.State == ModelState.Failed ? "failed" : host.State == ModelState.Loading ? "loading" : "worker-stopped",
                    host.Models?.Description, host.Models?.IsPlaceholder ?? false,
                    host.Models?.IsPlaceholder == true ? "tiny preset: a random model, its images are meaningless" : null,
                    host.LoadError, queue.Depth);
                return ready ? TypedResults.Ok(view) : TypedResults.Json(view, statusCode: StatusCodes.Status503ServiceUnavailable);
            })
            .WithTags("Health").WithName("Ready").WithSummary("Readiness: weights loaded and the worker alive.")
            .Produces<ReadinessView>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }
}
