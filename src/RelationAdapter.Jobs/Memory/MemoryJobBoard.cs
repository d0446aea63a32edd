using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;
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
    readonly JobLifecycle _lifecycle;
    readonly RelationEncoder _relations;
    readonly string _worker;

    public MemoryJobBoard(JobStore store, JobQueue queue, JobLifecycle lifecycle, RelationEncoder relations, ServiceTelemetry telemetry,
        IOptions<ServiceOptions> service)
    {
        _store = store;
        _queue = queue;
        _lifecycle = lifecycle;
        _relations = relations;
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

    /// <summary>Always: a cached relation's tokens travel with the job in this process.</summary>
    public Task<bool> HoldsExemplarsAsync(string relationId, CancellationToken cancellation) => Task.FromResult(true);

    public Task<bool> EnqueueAsync(Place place, NewEditJob job, CancellationToken cancellation)
    {
        var edit = new EditJob(job with { Spec = job.Spec with { Sequence = _store.NextSequence() } });
        _store.Add(edit);
        if (_queue.Enqueue(place, edit)) return Task.FromResult(true);
        _store.Remove(edit);
        return Task.FromResult(false);
    }

    public Task<JobRecord?> FindAsync(string id, CancellationToken cancellation) =>
        Task.FromResult(_store.Find(id) is { } job ? _store.Record(job, job.Snapshot()) : null);

    public Task<IReadOnlyList<JobRecord>> NewestAsync(string? owner, JobStatus? status, long? before, int count, CancellationToken cancellation) =>
        Task.FromResult<IReadOnlyList<JobRecord>>(_store.Newest(owner, status, before, count).Select(job => _store.Record(job, job.Snapshot())).ToList());

    public Task<(CancelOutcome Outcome, JobRecord? Job)> CancelAsync(string id, CancellationToken cancellation) => _lifecycle.CancelAsync(id);

    public Task CancelIfWaitingAsync(string id) => _lifecycle.CancelIfWaitingAsync(id);

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

    // The worker's side.

    public Task<RelationWork?> TakeRelationAsync(CancellationToken cancellation) =>
        Task.FromResult(_relations.TryTake(out var work) ? work : null);

    public async Task<IRunningJob?> TakeEditAsync(CancellationToken cancellation)
    {
        while (_queue.TryDequeue(out var next))
        {
            if (await _lifecycle.StartAsync(next.Spec, _worker) is { } started && next.TakeInputs() is { } inputs)
                return new MemoryRunningJob(next, _lifecycle, started, _worker, inputs);
            _queue.Done(next); // canceled while queued: its place was already given back
        }
        return null;
    }

    public Task DoneAsync(IRunningJob job)
    {
        var running = (MemoryRunningJob)job;
        running.Dispose();
        _queue.Done(running.Stored);
        running.Ended();
        return Task.CompletedTask;
    }

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

    public void StopTaking()
    {
        // The store changes in place: these complete at once.
        foreach (var waiting in _queue.Close()) _lifecycle.CancelIfWaitingAsync(waiting.Id).GetAwaiter().GetResult();
    }

    public async Task CloseAsync(TimeSpan grace)
    {
        StopTaking();
        if (_queue.Taken is { } running)
        {
            var timeout = Task.Delay(grace, CancellationToken.None);
            if (await Task.WhenAny(running.Completion, timeout) == timeout) running.Stop.Cancel();
        }
    }

    /// <summary>A taken job with the record it came from: the queue knows the record as taken until the worker is done.</summary>
    sealed class MemoryRunningJob(EditJob stored, JobLifecycle lifecycle, JobState started, string worker, NewEditJob inputs)
        : RunningJob(lifecycle, stored.Spec, started, worker, inputs.Sources, inputs.Relation, stored.Stop)
    {
        public EditJob Stored { get; } = stored;
    }
}
