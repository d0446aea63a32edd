using System.Collections.Concurrent;
using System.Threading.Channels;
using RelationAdapter.Jobs.Relations;

namespace RelationAdapter.Jobs.Memory;

/// <summary>
/// POST /v1/relations' work for the inference worker in this process (memory backend): concurrent requests for one
/// pair share one encoding; an encoded pair is stored in the cache before anyone is answered, or the request fails.
/// </summary>
public sealed class RelationEncoder : IRelationRequests
{
    readonly Channel<RelationWork> _work = Channel.CreateUnbounded<RelationWork>(new UnboundedChannelOptions { SingleReader = true });
    readonly ConcurrentDictionary<string, RelationWork> _inFlight = new(StringComparer.Ordinal);

    /// <summary>Pairs handed over and not yet encoded; a pair that several requests joined counts once.</summary>
    public int Pending => _inFlight.Count;

    public Task<(Task<CachedRelation> Done, bool Joined)> EncodeAsync(RelationWork work, CancellationToken cancellation) => Task.FromResult(Encode(work));

    (Task<CachedRelation> Done, bool Joined) Encode(RelationWork work)
    {
        var winner = _inFlight.GetOrAdd(work.Id, work);
        if (!ReferenceEquals(winner, work))
        {
            work.Finish();
            return (winner.Done, true);
        }
        work.Finished = done => _inFlight.TryRemove(done.Id, out _);
        if (!_work.Writer.TryWrite(work))
        {
            work.Fail(new OperationCanceledException("the service is shutting down."));
            work.Finish();
        }
        return (work.Done, false);
    }

    public bool TryTake(out RelationWork work) => _work.Reader.TryRead(out work!);

    public Task<bool> WaitAsync(CancellationToken cancellation) => _work.Reader.WaitToReadAsync(cancellation).AsTask();

    /// <summary>Takes no more work and fails what was still waiting (on shutdown, after the worker's last drain).</summary>
    public void Close()
    {
        _work.Writer.TryComplete();
        while (_work.Reader.TryRead(out var left))
        {
            left.Fail(new OperationCanceledException("the service is shutting down."));
            left.Finish();
        }
    }

}
