using System.Diagnostics;
using System.Threading.Channels;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Jobs.Memory;

/// <summary>
/// One edit from submission to result in this process's memory. State changes happen under a lock and are
/// published to subscribers; <see cref="Completion"/> finishes when the job reaches a terminal state. The job
/// owns its input images (the source at its edit size, the padded pair) and releases them on every terminal state.
/// </summary>
public sealed class EditJob : IRunningJob
{
    readonly Lock _gate = new();
    readonly List<Channel<JobEvent>> _subscribers = [];
    readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly TimeProvider _time;
    readonly string _worker;
    long _changes;
    IReadOnlyList<byte[]>? _images;

    readonly Action<EditSpec, JobState>? _statusChanged;

    public EditJob(NewEditJob job, TimeProvider time, string worker, Action<EditSpec, JobState>? statusChanged = null)
    {
        _statusChanged = statusChanged;
        Spec = job.Spec;
        Sources = job.Sources;
        Relation = job.Relation;
        _time = time;
        _worker = worker;
    }

    public EditSpec Spec { get; }
    public string Id => Spec.Id;
    /// <summary>The sources at their edit sizes; released once the job finished.</summary>
    public IReadOnlyList<Image<Rgb24>> Sources { get; }
    public RelationInput Relation { get; private set; }
    public ActivityContext ParentContext => Spec.ParentContext;
    public CancellationTokenSource CancellationSource { get; } = new();
    public CancellationToken Cancellation => CancellationSource.Token;
    public Task Completion => _completion.Task;

    /// <summary>The encoded images of a succeeded job, one per source.</summary>
    public IReadOnlyList<byte[]>? Images
    {
        get { lock (_gate) return _images; }
    }

    // Every change replaces the state under the lock and is published inside it, so readers (request threads)
    // see whole states only — never Succeeded without its output — and watchers get changes in order.
    JobState _state = JobState.Queued;

    public JobState Snapshot()
    {
        lock (_gate) return _state;
    }

    public JobStatus Status => Snapshot().Status;

    /// <summary>Queued → Running; false when the job was canceled while waiting.</summary>
    public bool TryStart() => Transition(JobStatus.Queued, "started", state => state.Started(_time.GetUtcNow(), _worker));

    public void ReportProgress(EditProgress progress)
    {
        lock (_gate)
        {
            if (_state.Status != JobStatus.Running) return;
            _state = _state.Progressed(progress);
            PublishLocked("progress");
        }
    }

    public void SetSize(int width, int height)
    {
        lock (_gate) _state = _state with { Width = width, Height = height };
    }

    public void Succeed(EditOutput output, IReadOnlyList<byte[]> images)
    {
        lock (_gate) _images = images;
        Transition(JobStatus.Running, "succeeded", state => state.Succeeded(output, _time.GetUtcNow()));
    }

    public void Fail(JobFailure error) =>
        Transition(JobStatus.Running, "failed", state => state.Failed(error, _time.GetUtcNow()));

    /// <summary>Cancels a queued job at once, or asks a running one to stop at its next step.</summary>
    public CancelOutcome RequestCancel()
    {
        if (TryCancelWaiting()) return CancelOutcome.RemovedFromQueue;
        if (Status != JobStatus.Running) return CancelOutcome.AlreadyFinished;
        CancellationSource.Cancel();
        return CancelOutcome.StopRequested;
    }

    /// <summary>Queued → Canceled; false when the job already started or finished.</summary>
    public bool TryCancelWaiting() =>
        Transition(JobStatus.Queued, "canceled", state => state.Canceled(_time.GetUtcNow()));

    /// <summary>A running job that stopped on its cancellation token.</summary>
    public void Stopped() =>
        Transition(JobStatus.Running, "canceled", state => state.Canceled(_time.GetUtcNow()));

    bool Transition(JobStatus from, string kind, Func<JobState, JobState> change)
    {
        JobState changed;
        lock (_gate)
        {
            if (_state.Status != from) return false;
            changed = _state = change(_state);
            PublishLocked(kind);
            if (_state.IsFinished)
            {
                ReleaseInputs();
                foreach (var subscriber in _subscribers) subscriber.Writer.TryComplete();
                _subscribers.Clear();
            }
        }
        _statusChanged?.Invoke(Spec, changed);
        if (changed.IsFinished) _completion.TrySetResult();
        return true;
    }

    void ReleaseInputs()
    {
        foreach (var source in Sources) source.Dispose();
        Relation.DisposeImages();
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
            if (lastSeen is null || lastSeen < _changes)
                channel.Writer.TryWrite(new JobEvent(_changes, "status", _state));
            if (_state.IsFinished) channel.Writer.TryComplete();
            else _subscribers.Add(channel);
        }
        return channel.Reader;
    }
}
