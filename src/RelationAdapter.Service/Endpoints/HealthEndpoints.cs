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

        app.MapGet(ReadyPath, Ready)
            .WithTags("Health").WithName("Ready").WithSummary("Readiness: weights loaded and the worker alive.")
            .Produces<ReadinessView>(StatusCodes.Status503ServiceUnavailable);
        return app;
    }

    static Results<Ok<ReadinessView>, JsonHttpResult<ReadinessView>> Ready(ModelHost host, JobQueue queue)
    {
        var status = host.Status;
        var models = status.Models;
        var view = new ReadinessView(
            status.Ready ? "ready" : status.State switch { ModelState.Failed => "failed", ModelState.Loading => "loading", _ => "worker-stopped" },
            models?.Description, models?.IsPlaceholder ?? false,
            models?.IsPlaceholder == true ? "tiny preset: a random model, its images are meaningless" : null,
            status.LoadError, queue.Depth);
        return status.Ready ? TypedResults.Ok(view) : TypedResults.Json(view, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
