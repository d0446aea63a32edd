using System.Threading.Channels;

namespace RelationAdapter.Jobs.Memory;

/// <summary>
/// One job as the memory backend keeps it: its state, the count of its changes, its watchers, its inputs until a
/// worker takes them (or it ends unrun) and its results. <see cref="Change"/> is the backend's compare-and-set;
/// <see cref="Completion"/> finishes when the job reaches a terminal state.
/// </summary>
public sealed class EditJob(NewEditJob job)
{
    readonly Lock _gate = new();
    readonly List<Channel<JobEvent>> _subscribers = [];
    readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    long _changes;
    IReadOnlyList<byte[]>? _images;
    NewEditJob? _inputs = job;

    public EditSpec Spec { get; } = job.Spec;
    public string Id => Spec.Id;
    /// <summary>Canceled when a client cancels the running job, or when shutdown ends its grace period.</summary>
    public CancellationTokenSource Stop { get; } = new();
    public Task Completion => _completion.Task;

    /// <summary>The encoded images of a succeeded job, one per result.</summary>
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

    public (JobState State, long Version) Versioned()
    {
        lock (_gate) return (_state, _changes);
    }

    /// <summary>The compare-and-set of <see cref="IJobStore.ChangeAsync"/> for this job; the new version, or 0.</summary>
    public long Change(JobStatus[] from, JobState next, string kind, string? requiredWorker, string? newWorker, IReadOnlyList<byte[]>? results)
    {
        lock (_gate)
        {
            if (!from.Contains(_state.Status) || (requiredWorker is not null && _state.Worker != requiredWorker)) return 0;
            _state = newWorker is null ? next : next with { Worker = newWorker };
            if (results is not null) _images = results;
            PublishLocked(kind);
            if (_state.IsFinished)
            {
                ReleaseInputsLocked();
                foreach (var subscriber in _subscribers) subscriber.Writer.TryComplete();
                _subscribers.Clear();
                _completion.TrySetResult();
            }
            return _changes;
        }
    }

    /// <summary>The inputs the job holds while it waits (the sources at their edit sizes, the padded pair); null once taken or released.</summary>
    public NewEditJob? Inputs
    {
        get { lock (_gate) return _inputs; }
    }

    /// <summary>The inputs go to the worker that started the job (it releases them); null when they were released.</summary>
    public NewEditJob? TakeInputs()
    {
        lock (_gate)
        {
            var inputs = _inputs;
            _inputs = null;
            return inputs;
        }
    }

    void ReleaseInputsLocked()
    {
        _inputs?.DisposeImages();
        _inputs = null;
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
