using Microsoft.AspNetCore.Http.HttpResults;
using RelationAdapter.Jobs;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// Kubernetes probes: /healthz (the process answers), /readyz (weights loaded and the worker running, the job backend
/// reachable, not shutting down). Both answer on the main port and on <c>Management:Port</c>.
/// </summary>
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

    static async Task<Results<Ok<ReadinessView>, JsonHttpResult<ReadinessView>>> Ready(ModelHost host, IJobBoard jobs, ShutdownDrain drain, CancellationToken cancellation)
    {
        var status = host.Status;
        var models = status.Models;
        var backendError = drain.Draining ? null : await jobs.UnavailableAsync(cancellation);
        var ready = status.Ready && backendError is null && !drain.Draining;
        var view = new ReadinessView(
            ready ? "ready"
                : drain.Draining ? "shutting-down"
                : backendError is not null ? "backend-unavailable"
                : status.State switch { ModelState.Failed => "failed", ModelState.Loading => "loading", _ => "worker-stopped" },
            models?.Description ?? (status.State == ModelState.Elsewhere ? "none: this replica's role is api, worker replicas run the model" : null),
            models?.IsPlaceholder ?? false,
            models?.IsPlaceholder == true ? "tiny preset: a random model, its images are meaningless" : null,
            backendError ?? status.LoadError, backendError is null && !drain.Draining ? await jobs.DepthAsync(cancellation) : 0);
        return ready ? TypedResults.Ok(view) : TypedResults.Json(view, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}
