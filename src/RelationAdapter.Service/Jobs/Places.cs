using Microsoft.Extensions.Options;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Jobs;

/// <summary>A fixed number of places, taken without waiting (null when all are taken).</summary>
public class Places(int count) : IDisposable
{
    readonly SemaphoreSlim _free = new(count);

    /// <summary>Places nobody holds now.</summary>
    public int Free => _free.CurrentCount;

    public Place? TryTake() => _free.Wait(0) ? new Place(_free) : null;

    public void Dispose() => _free.Dispose();
}

/// <summary>
/// POST /v1/relations' own places (<see cref="QueueOptions.RelationCapacity"/> per replica, whichever backend), taken
/// before the body is read so relation requests never crowd out edits.
/// </summary>
public sealed class RelationPlaces(IOptions<QueueOptions> options) : Places(options.Value.RelationCapacity);

/// <summary>One of a <see cref="Places"/>' places: its holder gives it back, or hands it to the work it queues.</summary>
public sealed class Place(SemaphoreSlim free) : IDisposable
{
    int _held = 1;

    /// <summary>The same place under a new owner; this one no longer gives it back.</summary>
    public Place? HandOver() => Interlocked.Exchange(ref _held, 0) == 1 ? new Place(free) : null;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _held, 0) == 1) free.Release();
    }
}
