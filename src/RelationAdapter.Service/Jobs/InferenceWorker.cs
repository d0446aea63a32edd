using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Service.Caching;
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
    RelationCache relations,
    ServiceTelemetry telemetry,
    IOptions<QueueOptions> queueOptions,
    TimeProvider time,
    ILogger<InferenceWorker> logger) : BackgroundService
{
    EditJob? _running;

    // A dedicated thread: jobs run for seconds to minutes and must not hold a thread-pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => WorkLoop(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    void WorkLoop(CancellationToken stoppingToken)
    {
        host.Load();
        host.WorkerAlive = host.State == ModelState.Ready;
        if (!host.WorkerAlive)
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
                if (queue.TryDequeue(out var job)) { Execute(job); relationsFirst = true; continue; }
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
            host.WorkerAlive = false;
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
        _running = job;
        var clock = Stopwatch.StartNew();
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("edit.job", ActivityKind.Internal, job.ParentContext);
        activity?.SetTag("edit.id", job.Id);
        activity?.SetTag("edit.steps", job.Parameters.Steps);
        var outcome = "failed";
        try
        {
            var output = Run(job, activity);
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
            _running = null;
            telemetry.Jobs.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            telemetry.JobDuration.Record(clock.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    EditOutput Run(EditJob job, Activity? jobActivity)
    {
        var pipeline = host.Models!.Pipeline;
        var parameters = job.Parameters;
        var relation = job.Relation;
        // The pair may have been encoded (by a relation request or an earlier job) while this job waited.
        var cached = relation.Cached ?? relations.Peek(relation.Id)?.Tokens;
        if (cached is null)
        {
            using (ServiceTelemetry.ActivitySource.StartActivity("relation.encode")?.SetTag("relation.id", relation.Id))
                cached = pipeline.EncodePaddedRelationTokens(relation.PaddedPromptImage!, relation.PaddedReferenceImage!);
            relations.Store(relation.Id, cached, time.GetUtcNow());
        }
        using var tokens = cached.ToTensor();

        var source = job.Source!;
        job.SetSize(source.Width, source.Height);
        var request = new EditRequest
        {
            Source = source,
            RelationTokens = tokens,
            Prompt = parameters.Prompt,
            Steps = parameters.Steps,
            Guidance = parameters.Guidance,
            AdapterScale = parameters.AdapterScale,
            Seed = parameters.Seed,
            MaxSide = parameters.MaxSide,
            CacheThreshold = parameters.CacheThreshold,
        };
        using var tracker = new StageTracker(job, telemetry, jobActivity);
        var result = pipeline.Run(request, tracker, job.Cancellation.Token);
        using var image = result.Image;
        var bytes = ImageCodec.Encode(image, parameters.OutputFormat);
        return new EditOutput(bytes, ImageCodec.ContentType(parameters.OutputFormat), result.Width, result.Height, result.StageTimings, result.Warnings, result.Steps);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        queue.Close(time.GetUtcNow());
        if (_running is { } running)
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

    /// <summary>Forwards pipeline progress to the job, with one span per stage and the step-duration metric.</summary>
    sealed class StageTracker(EditJob job, ServiceTelemetry telemetry, Activity? parent) : IProgress<EditProgress>, IDisposable
    {
        Activity? _stage;
        EditStage? _current;
        TimeSpan _lastStepAt;

        public void Report(EditProgress value)
        {
            if (value.Stage != _current)
            {
                _stage?.Dispose();
                _current = value.Stage;
                _stage = ServiceTelemetry.ActivitySource.StartActivity("edit." + JsonNamingPolicy.SnakeCaseLower.ConvertName(value.Stage.ToString()),
                    ActivityKind.Internal, parent?.Context ?? default);
            }
            else if (value.Stage == EditStage.Denoise)
            {
                telemetry.StepDuration.Record((value.Elapsed - _lastStepAt).TotalSeconds);
            }
            _lastStepAt = value.Elapsed;
            job.ReportProgress(value);
        }

        public void Dispose() => _stage?.Dispose();
    }
}
