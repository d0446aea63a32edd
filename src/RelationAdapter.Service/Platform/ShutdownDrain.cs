using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// The first step of a shutdown (SIGTERM, Ctrl+C): readiness fails and the API refuses new work with
/// <c>503 shutting-down</c> for <c>Queue:DrainPeriod</c>, while the listener stays open and requests already in
/// progress go on. Only then do the other services stop and the server close its listener. As a lifecycle
/// service's <c>StoppingAsync</c>, it runs before any hosted service or the server stops.
/// </summary>
public sealed class ShutdownDrain(IOptions<QueueOptions> options, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    volatile bool _draining;

    /// <summary>Shutdown has begun: this replica takes no new work.</summary>
    public bool Draining => _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var period = options.Value.DrainPeriod;
        if (period <= TimeSpan.Zero) return;
        logger.LogInformation("Shutting down: answering 503 shutting-down for {DrainPeriod} before the listener closes", period);
        try
        {
            await Task.Delay(period, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host's shutdown timeout ran out: stop draining, let the rest stop.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
