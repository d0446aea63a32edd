using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Jobs.Memory;

/// <summary>
/// The embedded backend: jobs, queue and relation encodings in this process's memory, for one replica that
/// both answers HTTP and runs the model. On shutdown the waiting jobs are canceled (nobody else could run them).
/// </summary>
public sealed class MemoryJobBoard : IJobBoard, IWorkSource
{
    readonly JobStore _store;
    readonly JobQueue _queue;
    readonly RelationEncoder _relations;
    readonly TimeProvider _time;
    readonly string _worker;
    readonly JobObservers _observers;

    public MemoryJobBoard(JobStore store, JobQueue queue, RelationEncoder relations, ServiceTelemetry telemetry, TimeProvider time, IOptions<ServiceOptions> service,
        JobObservers observers)
    {
        _observers = observers;
        _store = store;
        _queue = queue;
        _relations = relations;
        _time = time;
        _worker = service.Value.InstanceName;
        telemetry.ObserveQueueDepth(() => queue.Depth);
    }

    public Task<(Place? Place, Admission Admission)> TryReserveAsync(CancellationToken cancellation)
    {
        var place = _queue.TryReserve(out var admission);
        return Task.FromResult((place, admission));
    }

    public Task<string?> UnavailableAsync(CancellationToken cancellation) => Task.FromResult<string?>(null);

    public Task<int> DepthAsync(CancellationToken cancellation) => Task.FromResult(_queue.Depth);

    public Task<bool> EnqueueAsync(Place place, NewEditJob job, CancellationToken cancellation)
    {
        var edit = new EditJob(job with { Spec = job.Spec with { Sequence = _store.NextSequence() } }, _time, _worker, StatusChanged);
        _store.Add(edit);
        if (_queue.Enqueue(place, edit)) return Task.FromResult(true);
        _store.Remove(edit);
        return Task.FromResult(false);
    }

    public Task<JobRecord?> FindAsync(string id, CancellationToken cancellation) =>
        Task.FromResult(_store.Find(id) is { } job ? Record(job, job.Snapshot()) : null);

    public Task<IReadOnlyList<JobRecord>> NewestAsync(string? owner, JobStatus? status, long? before, int count, CancellationToken cancellation) =>
        Task.FromResult<IReadOnlyList<JobRecord>>(_store.Newest(owner, status, before, count).Select(job => Record(job, job.Snapshot())).ToList());

    public Task<(CancelOutcome Outcome, JobRecord? Job)> CancelAsync(string id, CancellationToken cancellation)
    {
        if (_store.Find(id) is not { } job) return Task.FromResult<(CancelOutcome, JobRecord?)>((CancelOutcome.AlreadyFinished, null));
        var outcome = _queue.Cancel(job);
        return Task.FromResult<(CancelOutcome, JobRecord?)>((outcome, Record(job, job.Snapshot())));
    }

    public Task CancelIfWaitingAsync(string id)
    {
        if (_store.Find(id) is { } job) _queue.CancelIfWaiting(job);
        return Task.CompletedTask;
    }

    public Task<byte[]?> ReadResultAsync(string id, int index, CancellationToken cancellation) =>
        Task.FromResult(_store.Find(id)?.Images is { } images && index < images.Count ? images[index] : null);

    public async IAsyncEnumerable<JobEvent> WatchAsync(string id, long? lastSeen, [EnumeratorCancellation] CancellationToken cancellation)
    {
        if (_store.Find(id) is not { } job) yield break;
        var events = job.Subscribe(lastSeen);
        try
        {
            while (await events.WaitToReadAsync(cancellation))
                while (events.TryRead(out var change))
                    yield return change with { QueuePosition = change.State.Status == JobStatus.Queued ? _queue.PositionOf(job) : null };
        }
        finally
        {
            job.Unsubscribe(events);
        }
    }

    void StatusChanged(EditSpec job, JobState state) => _observers.StatusChanged(job, state);

    JobRecord Record(EditJob job, JobState state) => new(job.Spec, state, state.Status == JobStatus.Queued ? _queue.PositionOf(job) : null);

    // The worker's side.

    public bool TryTakeRelation(out RelationWork work) => _relations.TryTake(out work);

    public bool TryTakeEdit(out IRunningJob job)
    {
        while (_queue.TryDequeue(out var next))
        {
            if (next.TryStart())
            {
                job = next;
                return true;
            }
            _queue.Done(next); // canceled while queued: its place was already given back
        }
        job = null!;
        return false;
    }

    public void Done(IRunningJob job) => _queue.Done((EditJob)job);

    // One pending wait per source at a time, so an idle source does not collect waiters.
    Task? _relationReady, _editReady;

    public async Task WaitAsync(CancellationToken cancellation)
    {
        _relationReady ??= _relations.WaitAsync(cancellation);
        _editReady ??= _queue.WaitAsync(cancellation);
        var first = await Task.WhenAny(_relationReady, _editReady);
        if (first == _relationReady) _relationReady = null;
        else _editReady = null;
        await first;
    }

    public void WorkerStopped() => _relations.Close();

    public bool IsClosed => _queue.IsCompleted;

    public void StopTaking() => _queue.Close();

    public async Task CloseAsync(TimeSpan grace)
    {
        _queue.Close();
        if (_queue.Taken is { } running)
        {
            var timeout = Task.Delay(grace, CancellationToken.None);
            if (await Task.WhenAny(running.Completion, timeout) == timeout) running.RequestCancel();
        }
    }
}
