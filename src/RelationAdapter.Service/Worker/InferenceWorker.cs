using System.Diagnostics;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Worker;

/// <summary>
/// The one owner of the models: loads them, then runs relation encodings and edit jobs one at a time (each on a
/// thread of its own), taking turns when both wait so neither starves the other. A failing job fails alone; on
/// shutdown the work source stops handing out work and the running job gets a grace period.
/// </summary>
public sealed class InferenceWorker(
    ModelHost host,
    IWorkSource work,
    EditRunner runner,
    ServiceTelemetry telemetry,
    IOptions<QueueOptions> queueOptions,
    IHostApplicationLifetime lifetime,
    ILogger<InferenceWorker> logger) : BackgroundService
{
    static readonly TimeSpan TakeRetryDelay = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // At the first sign of shutdown, before the server stops answering: waiting clients hear of their jobs while they can.
        lifetime.ApplicationStopping.Register(work.StopTaking);
        await OnOwnThread(host.Load);
        host.SetWorkerAlive(host.State == ModelState.Ready);
        try
        {
            if (host.State != ModelState.Ready) return;
            var relationsFirst = true;
            while (!work.IsClosed)
            {
                try
                {
                    if (relationsFirst && await work.TakeRelationAsync(stoppingToken) is { } first) { await EncodeAsync(first); relationsFirst = false; continue; }
                    if (await work.TakeEditAsync(stoppingToken) is { } job)
                    {
                        try { await RunAsync(job); }
                        finally { await work.DoneAsync(job); }
                        relationsFirst = true;
                        continue;
                    }
                    if (await work.TakeRelationAsync(stoppingToken) is { } relation) { await EncodeAsync(relation); continue; }
                    await work.WaitAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The source itself failed (Redis unreachable): the worker waits and tries again; it does not die.
                    logger.LogError(e, "Taking work failed; retrying in {Delay}", TakeRetryDelay);
                    await Task.Delay(TakeRetryDelay, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            host.SetWorkerAlive(false);
            work.WorkerStopped();
        }
    }

    // Loading, encoding and denoising hold a thread for seconds to minutes: a thread of their own, not the pool's.
    static Task OnOwnThread(Action run) => Task.Factory.StartNew(run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    static Task<T> OnOwnThread<T>(Func<T> run) => Task.Factory.StartNew(run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    async Task EncodeAsync(RelationWork relation)
    {
        try
        {
            relation.Complete(await OnOwnThread(() => runner.EncodeRelation(host.Models!.Pipeline, relation.Pair, shareRequired: true)));
        }
        catch (Exception e)
        {
            logger.LogError(e, "Encoding relation {RelationId} failed", relation.Id);
            relation.Fail(e);
        }
        finally
        {
            relation.Finish();
        }
    }

    async Task RunAsync(IRunningJob job)
    {
        var clock = Stopwatch.StartNew();
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("edit.job", ActivityKind.Internal, job.ParentContext);
        activity?.SetTag("edit.id", job.Spec.Id);
        activity?.SetTag("edit.steps", job.Spec.Settings.Steps);
        string? outcome = "failed";
        try
        {
            var (output, images) = await OnOwnThread(() => runner.Run(job, host.Models!.Pipeline, activity));
            await job.SucceedAsync(output, images);
            outcome = "succeeded";
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            await job.StoppedAsync();
            outcome = "canceled";
        }
        catch (BackendUnavailableException e)
        {
            // Not the edit's failure: its state could not be stored. The backend keeps the job, to be run again.
            logger.LogError(e, "Edit {JobId} was interrupted by the job backend; it will be run again", job.Spec.Id);
            outcome = null;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Edit {JobId} failed", job.Spec.Id);
            await job.FailAsync(JobFailure.From(e));
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
        }
        finally
        {
            if (outcome is not null)
            {
                telemetry.CountJob(outcome, job.Spec.Owner);
                telemetry.JobDuration.Record(clock.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await work.CloseAsync(queueOptions.Value.ShutdownGracePeriod);
        await base.StopAsync(cancellationToken);
    }
}
