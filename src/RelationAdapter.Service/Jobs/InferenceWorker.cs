using System.Diagnostics;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;

namespace RelationAdapter.Service.Jobs;

/// <summary>
/// The one owner of the models: loads them, then runs relation encodings and edit jobs one at a time on a
/// dedicated thread, taking turns when both wait so neither starves the other. A failing job fails alone; on
/// shutdown the queue is closed, waiting jobs are canceled and the running one gets a grace period before it
/// is canceled too.
/// </summary>
public sealed class InferenceWorker(
    ModelHost host,
    JobQueue queue,
    RelationEncoder relationEncoder,
    EditRunner runner,
    ServiceTelemetry telemetry,
    IOptions<QueueOptions> queueOptions,
    TimeProvider time,
    ILogger<InferenceWorker> logger) : BackgroundService
{
    // A dedicated thread: jobs run for seconds to minutes and must not hold a thread-pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => WorkLoop(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    void WorkLoop(CancellationToken stoppingToken)
    {
        host.Load();
        host.SetWorkerAlive(host.State == ModelState.Ready);
        if (host.State != ModelState.Ready)
        {
            relationEncoder.Close();
            return;
        }
        try
        {
            Task? relationReady = null, jobReady = null;
            var relationsFirst = true;
            while (true)
            {
                if (relationsFirst && relationEncoder.TryTake(out var work)) { Encode(work); relationsFirst = false; continue; }
                if (queue.TryDequeue(out var job))
                {
                    try { Execute(job); }
                    finally { queue.Done(job); }
                    relationsFirst = true;
                    continue;
                }
                if (relationEncoder.TryTake(out work)) { Encode(work); continue; }
                if (queue.IsCompleted) break; // closed and drained
                // One pending wait per source at a time, so idle sources do not collect waiters.
                relationReady ??= relationEncoder.WaitAsync(stoppingToken);
                jobReady ??= queue.WaitAsync(stoppingToken);
                var first = Task.WhenAny(relationReady, jobReady).GetAwaiter().GetResult();
                if (first.IsCanceled) break;
                if (first == relationReady) relationReady = null;
                else jobReady = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            host.SetWorkerAlive(false);
            relationEncoder.Close();
        }
    }

    void Encode(RelationWork work)
    {
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("relation.encode");
        activity?.SetTag("relation.id", work.Id);
        try
        {
            relationEncoder.Process(work, host.Models!.Pipeline);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Encoding relation {RelationId} failed", work.Id);
        }
    }

    void Execute(EditJob job)
    {
        if (!job.TryStart(time.GetUtcNow())) return; // canceled while queued: its place was already given back
        var clock = Stopwatch.StartNew();
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("edit.job", ActivityKind.Internal, job.ParentContext);
        activity?.SetTag("edit.id", job.Id);
        activity?.SetTag("edit.steps", job.Settings.Steps);
        var outcome = "failed";
        try
        {
            var output = runner.Run(job, host.Models!.Pipeline, activity);
            job.Succeed(output, time.GetUtcNow());
            outcome = "succeeded";
        }
        catch (OperationCanceledException) when (job.Cancellation.IsCancellationRequested)
        {
            job.MarkCanceled(time.GetUtcNow());
            outcome = "canceled";
        }
        catch (Exception e)
        {
            logger.LogError(e, "Edit {JobId} failed", job.Id);
            job.Fail(JobFailure.From(e), time.GetUtcNow());
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
        }
        finally
        {
            telemetry.Jobs.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("api_key", job.Owner ?? "none"));
            telemetry.JobDuration.Record(clock.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Close(time.GetUtcNow());
        if (queue.Taken is { } running)
        {
            var grace = Task.Delay(queueOptions.Value.ShutdownGracePeriod, CancellationToken.None);
            if (await Task.WhenAny(running.Completion, grace) == grace)
            {
                logger.LogWarning("Edit {JobId} did not finish within the shutdown grace period; canceling it", running.Id);
                running.RequestCancel(time.GetUtcNow());
            }
        }
        await base.StopAsync(cancellationToken);
    }
}
