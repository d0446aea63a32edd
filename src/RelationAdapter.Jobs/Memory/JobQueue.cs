using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs.Memory;

/// <summary>
/// The bounded queue between the endpoints and the worker, in submission order. Capacity counts waiting
/// jobs plus places reserved by admitted requests about to enqueue; a job canceled while waiting leaves the list at
/// once, so every place is returned exactly once whatever the mix of submits and cancels.
/// </summary>
public sealed class JobQueue
{
    readonly Lock _gate = new();
    readonly LinkedList<EditJob> _waiting = [];
    readonly int _capacity;
    int _reserved;
    bool _closed;
    // Set in the same lock as the dequeue, so a shutdown closing the queue never misses a job just taken.
    EditJob? _taken;
    TaskCompletionSource _changed = NewSignal();

    public JobQueue(IOptions<QueueOptions> options)
    {
        _capacity = options.Value.Capacity;
    }

    /// <summary>Jobs waiting to run.</summary>
    public int Depth
    {
        get { lock (_gate) return _waiting.Count; }
    }

    /// <summary>Takes a place for a job about to be submitted; null (with the reason) when none is free.</summary>
    public Place? TryReserve(out Admission admission)
    {
        lock (_gate)
        {
            admission = _closed ? Admission.ShuttingDown : _waiting.Count + _reserved >= _capacity ? Admission.Full : Admission.Accepted;
            if (admission != Admission.Accepted) return null;
            _reserved++;
        }
        return new Place(Guid.NewGuid().ToString("N"), GiveBack);
    }

    void GiveBack()
    {
        lock (_gate) _reserved--;
    }

    /// <summary>Puts the job in the place reserved for it; false when the queue closed meanwhile (the place is given back).</summary>
    public bool Enqueue(Place place, EditJob job)
    {
        place.Use();
        TaskCompletionSource changed;
        lock (_gate)
        {
            _reserved--;
            if (_closed) return false;
            _waiting.AddLast(job);
            changed = Signal();
        }
        changed.TrySetResult();
        return true;
    }

    /// <summary>The job taken last and not yet <see cref="Done"/>: shutdown gives it its grace period.</summary>
    public EditJob? Taken
    {
        get { lock (_gate) return _taken; }
    }

    /// <summary>The next job to run, if any; it no longer counts as waiting and is <see cref="Taken"/> until <see cref="Done"/>.</summary>
    public bool TryDequeue(out EditJob job)
    {
        List<EditJob> moved;
        lock (_gate)
        {
            job = _waiting.First?.Value!;
            if (job is null) return false;
            _waiting.RemoveFirst();
            _taken = job;
            moved = [.. _waiting];
        }
        foreach (var behind in moved) behind.QueueMoved();
        return true;
    }

    /// <summary>The taken job ended (or never started).</summary>
    public void Done(EditJob job)
    {
        lock (_gate)
            if (ReferenceEquals(_taken, job)) _taken = null;
    }

    /// <summary>True once the queue is closed and nothing waits.</summary>
    public bool IsCompleted
    {
        get { lock (_gate) return _closed && _waiting.Count == 0; }
    }

    /// <summary>Completes when a job may be waiting or the queue closed.</summary>
    public Task WaitAsync(CancellationToken cancellation)
    {
        lock (_gate)
            return _waiting.Count > 0 || _closed ? Task.CompletedTask : _changed.Task.WaitAsync(cancellation);
    }

    /// <summary>Jobs ahead of this one (0: next to run); null when it is not waiting.</summary>
    public int? PositionOf(EditJob job)
    {
        lock (_gate)
        {
            var position = 0;
            for (var node = _waiting.First; node is not null; node = node.Next, position++)
                if (ReferenceEquals(node.Value, job)) return position;
            return null;
        }
    }

    /// <summary>The job left the queue (canceled while waiting); the jobs behind it move up.</summary>
    public void Remove(EditJob job)
    {
        var moved = new List<EditJob>();
        lock (_gate)
        {
            if (_waiting.Find(job) is not { } node) return;
            for (var behind = node.Next; behind is not null; behind = behind.Next) moved.Add(behind.Value);
            _waiting.Remove(node);
        }
        foreach (var behind in moved) behind.QueueMoved();
    }

    /// <summary>Stops taking jobs; the jobs still waiting, for the caller to cancel.</summary>
    public IReadOnlyList<EditJob> Close()
    {
        List<EditJob> waiting;
        TaskCompletionSource changed;
        lock (_gate)
        {
            _closed = true;
            waiting = [.. _waiting];
            changed = Signal();
        }
        changed.TrySetResult();
        return waiting;
    }

    TaskCompletionSource Signal()
    {
        var changed = _changed;
        _changed = NewSignal();
        return changed;
    }

    static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
