using System.Diagnostics;
using System.Threading.Channels;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Service.Jobs;

public enum JobStatus { Queued, Running, Succeeded, Failed, Canceled }

public enum CancelOutcome { RemovedFromQueue, StopRequested, AlreadyFinished }

/// <summary>
/// The exemplar pair of a job: cached relation tokens, or the two images to encode (and cache under the id),
/// already padded to the size the image encoder takes (<see cref="ImagePreprocessing.PadToRegularRatio"/>).
/// </summary>
public sealed record RelationInput(string Id, RelationTokens? Cached, Image<Rgb24>? PaddedPromptImage, Image<Rgb24>? PaddedReferenceImage);

/// <summary>A finished job's image and what produced it.</summary>
public sealed record EditOutput(byte[] Bytes, string ContentType, int Width, int Height,
    IReadOnlyDictionary<EditStage, TimeSpan> Timings, IReadOnlyList<string> Warnings, DenoiseSteps? DenoiseSteps = null);

/// <summary>The mutable part of a job, captured at one moment.</summary>
public sealed record JobState(JobStatus Status, EditStage? Stage, int Step, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int? Width, int? Height, EditOutput? Output, JobFailure? Error)
{
    public static readonly JobState Queued = new(JobStatus.Queued, null, 0, null, null, null, null, null, null);

    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled;
}

/// <summary>
/// A change a watcher of the job sees (Server-Sent Events), with the state right after it. <c>Id</c> counts the
/// job's changes, so a watcher that reconnects with the last id it saw misses nothing and repeats nothing.
/// </summary>
public sealed record JobEvent(long Id, string Kind, JobState State);

/// <summary>
/// One edit from submission to result. State changes happen under a lock and are published to
/// subscribers; <see cref="Completion"/> finishes when the job reaches a terminal state. The job owns its
/// input images (the source at its edit size, the padded pair) and releases them on every terminal state.
/// </summary>
public sealed class EditJob
{
    readonly Lock _gate = new();
    readonly List<Channel<JobEvent>> _subscribers = [];
    readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    long _changes;

    public EditJob(string id, long sequence, EditSettings settings, OutputFormat outputFormat, Image<Rgb24> source, RelationInput relation,
        DateTimeOffset now, TimeSpan resultRetention, string? owner = null)
    {
        Id = id;
        Sequence = sequence;
        Settings = settings;
        OutputFormat = outputFormat;
        Source = source;
        Relation = relation;
        CreatedAt = now;
        ResultRetention = resultRetention;
        Owner = owner;
        ParentContext = Activity.Current?.Context ?? default;
    }

    public string Id { get; }
    public long Sequence { get; }
    public EditSettings Settings { get; }
    public OutputFormat OutputFormat { get; }
    /// <summary>The source at its edit size; null once the job finished.</summary>
    public Image<Rgb24>? Source { get; private set; }
    public RelationInput Relation { get; private set; }
    public ActivityContext ParentContext { get; }
    public CancellationTokenSource Cancellation { get; } = new();
    public Task Completion => _completion.Task;

    public int TotalSteps => Settings.Steps;
    public DateTimeOffset CreatedAt { get; }

    /// <summary>How long the job and its result are kept once finished (the store may drop it sooner beyond its count).</summary>
    public TimeSpan ResultRetention { get; }

    /// <summary>The name of the API key that created the job; null when the API is open.</summary>
    public string? Owner { get; }

    // Every change replaces the state under the lock and is published inside it, so readers (request threads)
    // see whole states only — never Succeeded without its output — and watchers get changes in order.
    JobState _state = JobState.Queued;

    public JobState Snapshot()
    {
        lock (_gate) return _state;
    }

    public JobStatus Status => Snapshot().Status;
    public bool IsFinished => Snapshot().IsFinished;

    /// <summary>Queued → Running; false when the job was canceled while waiting.</summary>
    public bool TryStart(DateTimeOffset now) => Transition(JobStatus.Queued, "started", state => state with { Status = JobStatus.Running, StartedAt = now });

    public void ReportProgress(EditProgress progress)
    {
        lock (_gate)
        {
            if (_state.Status != JobStatus.Running) return;
            var step = progress.Stage is EditStage.Denoise or EditStage.Decode ? progress.Step : _state.Step;
            _state = _state with { Stage = progress.Stage, Step = step };
            PublishLocked("progress");
        }
    }

    public void SetSize(int width, int height)
    {
        lock (_gate) _state = _state with { Width = width, Height = height };
    }

    public void Succeed(EditOutput output, DateTimeOffset now) => Transition(JobStatus.Running, "succeeded",
        state => state with { Status = JobStatus.Succeeded, Output = output, Width = output.Width, Height = output.Height, FinishedAt = now });

    public void Fail(JobFailure error, DateTimeOffset now) =>
        Transition(JobStatus.Running, "failed", state => state with { Status = JobStatus.Failed, Error = error, FinishedAt = now });

    /// <summary>Cancels a queued job at once, or asks a running one to stop at its next step.</summary>
    public CancelOutcome RequestCancel(DateTimeOffset now)
    {
        if (TryCancelWaiting(now)) return CancelOutcome.RemovedFromQueue;
        if (Status != JobStatus.Running) return CancelOutcome.AlreadyFinished;
        Cancellation.Cancel();
        return CancelOutcome.StopRequested;
    }

    /// <summary>Queued → Canceled; false when the job already started or finished.</summary>
    public bool TryCancelWaiting(DateTimeOffset now) =>
        Transition(JobStatus.Queued, "canceled", state => state with { Status = JobStatus.Canceled, FinishedAt = now });

    /// <summary>A running job that stopped on its cancellation token.</summary>
    public void MarkCanceled(DateTimeOffset now) =>
        Transition(JobStatus.Running, "canceled", state => state with { Status = JobStatus.Canceled, FinishedAt = now });

    bool Transition(JobStatus from, string kind, Func<JobState, JobState> change)
    {
        lock (_gate)
        {
            if (_state.Status != from) return false;
            _state = change(_state);
            PublishLocked(kind);
            if (!_state.IsFinished) return true;
            ReleaseInputs();
            foreach (var subscriber in _subscribers) subscriber.Writer.TryComplete();
            _subscribers.Clear();
        }
        _completion.TrySetResult();
        return true;
    }

    void ReleaseInputs()
    {
        Source?.Dispose();
        Relation.PaddedPromptImage?.Dispose();
        Relation.PaddedReferenceImage?.Dispose();
        Source = null;
        Relation = Relation with { PaddedPromptImage = null, PaddedReferenceImage = null, Cached = null };
    }

    /// <summary>Jobs ahead of this one left the queue: its watchers see its new position.</summary>
    public void QueueMoved()
    {
        lock (_gate)
            if (_state.Status == JobStatus.Queued) PublishLocked("queue_position");
    }

    void PublishLocked(string kind)
    {
        var change = new JobEvent(++_changes, kind, _state);
        foreach (var subscriber in _subscribers) subscriber.Writer.TryWrite(change);
    }

    /// <summary>A watcher that left before the job finished: its channel is no longer written.</summary>
    public void Unsubscribe(ChannelReader<JobEvent> events)
    {
        lock (_gate) _subscribers.RemoveAll(subscriber => subscriber.Reader == events);
    }

    /// <summary>
    /// Events until the job finishes. The current state comes first as a <c>status</c> event, unless the
    /// watcher already saw it (<paramref name="lastSeen"/>, the id of the last event it received).
    /// </summary>
    public ChannelReader<JobEvent> Subscribe(long? lastSeen = null)
    {
        var channel = Channel.CreateBounded<JobEvent>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.DropOldest });
        lock (_gate)
        {
            if (lastSeen is null || lastSeen < _changes) channel.Writer.TryWrite(new JobEvent(_changes, "status", _state));
            if (_state.IsFinished) channel.Writer.TryComplete();
            else _subscribers.Add(channel);
        }
        return channel.Reader;
    }
}
