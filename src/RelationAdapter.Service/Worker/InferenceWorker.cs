using System.Diagnostics;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Worker;

/// <summary>
/// The one owner of the models: loads them, then runs relation encodings and edit jobs one at a time on a
/// dedicated thread, taking turns when both wait so neither starves the other. A failing job fails alone; on
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

    // A dedicated thread: jobs run for seconds to minutes and must not hold a thread-pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // At the first sign of shutdown, before the server stops answering: waiting clients hear of their jobs while they can.
        lifetime.ApplicationStopping.Register(work.StopTaking);
        return Task.Factory.StartNew(() => WorkLoop(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    void WorkLoop(CancellationToken stoppingToken)
    {
        host.Load();
        host.SetWorkerAlive(host.State == ModelState.Ready);
        try
        {
            if (host.State != ModelState.Ready) return;
            var relationsFirst = true;
            while (!work.IsClosed)
            {
                try
                {
                    if (relationsFirst && work.TryTakeRelation(out var relation)) { Encode(relation); relationsFirst = false; continue; }
                    if (work.TryTakeEdit(out var job))
                    {
                        try { Execute(job); }
                        finally { work.Done(job); }
                        relationsFirst = true;
                        continue;
                    }
                    if (work.TryTakeRelation(out relation)) { Encode(relation); continue; }
                    work.WaitAsync(stoppingToken).GetAwaiter().GetResult();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The source itself failed (Redis unreachable): the worker waits and tries again; it does not die.
                    logger.LogError(e, "Taking work failed; retrying in {Delay}", TakeRetryDelay);
                    stoppingToken.WaitHandle.WaitOne(TakeRetryDelay);
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

    void Encode(RelationWork relation)
    {
        try
        {
            relation.Complete(runner.EncodeRelation(host.Models!.Pipeline, relation.Id, relation.PaddedPromptImage, relation.PaddedReferenceImage, shareRequired: true));
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

    void Execute(IRunningJob job)
    {
        var clock = Stopwatch.StartNew();
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("edit.job", ActivityKind.Internal, job.ParentContext);
        activity?.SetTag("edit.id", job.Spec.Id);
        activity?.SetTag("edit.steps", job.Spec.Settings.Steps);
        string? outcome = "failed";
        try
        {
            var (output, images) = runner.Run(job, host.Models!.Pipeline, activity);
            job.Succeed(output, images);
            outcome = "succeeded";
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            job.Stopped();
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
            job.Fail(JobFailure.From(e));
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
