using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Endpoints;
using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;

namespace RelationAdapter.Service.Jobs;

/// <summary>
/// The one owner of the models: loads them, then runs relation encodings (first) and edit jobs one at a
/// time on a dedicated thread. A failing job fails alone; on shutdown the queue is closed, waiting jobs
/// are canceled and the running one gets a grace period before it is canceled too.
/// </summary>
public sealed class InferenceWorker(
    ModelHost host,
    JobQueue queue,
    JobStore store,
    RelationCache relations,
    ServiceTelemetry telemetry,
    IOptions<QueueOptions> queueOptions,
    TimeProvider time,
    ILogger<InferenceWorker> logger) : BackgroundService
{
    readonly Channel<RelationWork> _relationWork = Channel.CreateUnbounded<RelationWork>(new UnboundedChannelOptions { SingleReader = true });
    EditJob? _running;

    /// <summary>Asks the worker to encode a pair; completes when its tokens are cached.</summary>
    public Task<CachedRelation> EncodeRelation(RelationWork work)
    {
        if (!_relationWork.Writer.TryWrite(work)) throw new InvalidOperationException("the worker is stopping.");
        return work.Done;
    }

    // A dedicated thread: jobs run for seconds to minutes and must not hold a thread-pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => WorkLoop(stoppingToken), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    void WorkLoop(CancellationToken stoppingToken)
    {
        host.Load();
        host.WorkerAlive = host.State == ModelState.Ready;
        if (!host.WorkerAlive) return;
        try
        {
            Task<bool>? relationReady = null, jobReady = null;
            while (true)
            {
                if (_relationWork.Reader.TryRead(out var work)) { Encode(work); continue; }
                if (queue.Reader.TryRead(out var job)) { Execute(job); continue; }
                if (queue.Reader.Completion.IsCompleted) break; // closed and drained
                // One pending wait per channel at a time, so idle channels do not collect waiters.
                relationReady ??= _relationWork.Reader.WaitToReadAsync(stoppingToken).AsTask();
                jobReady ??= queue.Reader.WaitToReadAsync(stoppingToken).AsTask();
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
            while (_relationWork.Reader.TryRead(out var left)) left.Fail(new OperationCanceledException("the service is shutting down."));
        }
    }

    void Encode(RelationWork work)
    {
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("relation.encode");
        try
        {
            var tokens = host.Models!.Pipeline.EncodeRelationTokens(work.PromptImage, work.ReferenceImage);
            work.Complete(relations.Store(work.Id, tokens, time.GetUtcNow()));
        }
        catch (Exception e)
        {
            logger.LogError(e, "Encoding relation {RelationId} failed", work.Id);
            work.Fail(e);
        }
        finally
        {
            work.PromptImage.Dispose();
            work.ReferenceImage.Dispose();
        }
    }

    void Execute(EditJob job)
    {
        if (!job.TryStart(time.GetUtcNow())) return; // canceled while queued: its place was already given back
        queue.Left();
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
            job.Fail(Problems.JobFailure(e), time.GetUtcNow());
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
        }
        finally
        {
            _running = null;
            job.ReleaseInputs();
            telemetry.Jobs.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
            telemetry.JobDuration.Record(clock.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
        }
    }

    EditOutput Run(EditJob job, Activity? jobActivity)
    {
        var pipeline = host.Models!.Pipeline;
        var parameters = job.Parameters;
        var relation = job.Relation;
        var cached = relation.Cached;
        if (cached is null)
        {
            using (ServiceTelemetry.ActivitySource.StartActivity("relation.encode"))
                cached = pipeline.EncodeRelationTokens(relation.PromptImage!, relation.ReferenceImage!);
            relations.Store(relation.Id, cached, time.GetUtcNow());
        }
        using var tokens = cached.ToTensor();

        var (width, height) = ImagePreprocessing.SourceSize(job.Source.Width, job.Source.Height, parameters.MaxSide);
        job.SetSize(width, height);
        var request = new EditRequest
        {
            Source = job.Source,
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
        queue.Close();
        var now = time.GetUtcNow();
        foreach (var waiting in store.Queued.ToList())
            if (waiting.RequestCancel(now) == CancelOutcome.RemovedFromQueue) queue.Left();
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
