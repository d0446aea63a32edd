using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs;

/// <summary>A fixed number of places, taken without waiting (null when all are taken).</summary>
public class Places(int count) : IDisposable
{
    readonly SemaphoreSlim _free = new(count);

    /// <summary>Places nobody holds now.</summary>
    public int Free => _free.CurrentCount;

    public Place? TryTake() => _free.Wait(0) ? new Place(Guid.NewGuid().ToString("N"), () => _free.Release()) : null;

    public void Dispose() => _free.Dispose();
}

/// <summary>
/// POST /v1/relations' own places (<see cref="QueueOptions.RelationCapacity"/> per replica, whichever backend), taken
/// before the body is read so relation requests never crowd out edits.
/// </summary>
public sealed class RelationPlaces(IOptions<QueueOptions> options) : Places(options.Value.RelationCapacity);

/// <summary>
/// A place held in a bounded set (the queue's capacity, the relation encodings): its holder uses it up for the work it
/// took it for, hands it over to that work, or gives it back by disposing it; <paramref name="lease"/>, when given,
/// keeps the reservation alive while the place is held (and ends when it is used or given back).
/// </summary>
public sealed class Place(string id, Action giveBack, IDisposable? lease = null) : IDisposable
{
    int _held = 1;

    public string Id { get; } = id;

    /// <summary>The place goes to the work put in it (which frees it its own way); a place used or given back before cannot be used.</summary>
    public void Use()
    {
        if (!Release()) throw new InvalidOperationException("the place was already used or given back.");
    }

    /// <summary>The same place under a new owner; this one no longer gives it back.</summary>
    public Place? HandOver() => Interlocked.Exchange(ref _held, 0) == 1 ? new Place(Id, giveBack, lease) : null;

    bool Release()
    {
        if (Interlocked.Exchange(ref _held, 0) != 1) return false;
        lease?.Dispose();
        return true;
    }

    public void Dispose()
    {
        if (Release()) giveBack();
    }
}
