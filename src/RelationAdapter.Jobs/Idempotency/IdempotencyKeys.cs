using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs.Idempotency;

/// <summary>What a request with an idempotency key produced: its status code and the job or relation it made.</summary>
public sealed record IdempotentOutcome(int StatusCode, string Id);

/// <summary>A claim on a key for one request: complete it with the outcome, or dispose it to free the key.</summary>
public interface IIdempotencyClaim : IDisposable
{
    Task CompleteAsync(IdempotentOutcome outcome);
}

/// <summary>
/// The idempotency keys in use: claimed by the first request, answered with its outcome to the same request
/// made again, refused to another request. This process's memory, or Redis so that every replica agrees.
/// </summary>
public interface IIdempotencyKeys
{
    /// <summary>Whether the key was used in this scope (within the retention).</summary>
    Task<bool> KnowsAsync(string scope);

    /// <summary>
    /// Claims the key for this request (<c>Claim</c> set), or answers with the outcome of the same request made
    /// before (<c>Replay</c>; a request still in flight is waited for), or finds the key used for another request (<c>Reused</c>).
    /// </summary>
    /// <remarks>An outcome whose job or relation is gone (<paramref name="stillThere"/> false) frees the key: the request runs anew.</remarks>
    Task<(IIdempotencyClaim? Claim, IdempotentOutcome? Replay, bool Reused)> BeginAsync(string scope, string fingerprint,
        Func<IdempotentOutcome, Task<bool>> stillThere, CancellationToken cancellation);
}

/// <summary>The keys of one process, bounded by <see cref="IdempotencyOptions.MaxKeys"/> and the retention.</summary>
public sealed class MemoryIdempotencyKeys(IOptions<IdempotencyOptions> options, TimeProvider time) : IIdempotencyKeys
{
    sealed record Entry(string Fingerprint, TaskCompletionSource<IdempotentOutcome?> Outcome, DateTimeOffset CreatedAt);

    readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    DateTimeOffset _nextSweep;

    sealed class Claim(MemoryIdempotencyKeys keys, string scope, Entry entry) : IIdempotencyClaim
    {
        public Task CompleteAsync(IdempotentOutcome outcome)
        {
            entry.Outcome.TrySetResult(outcome);
            return Task.CompletedTask;
        }

        public void Dispose()
        {
            if (entry.Outcome.Task.IsCompleted) return;
            keys._entries.TryRemove(new KeyValuePair<string, Entry>(scope, entry));
            entry.Outcome.TrySetResult(null);
        }
    }

    public Task<bool> KnowsAsync(string scope) => Task.FromResult(_entries.ContainsKey(scope));

    public async Task<(IIdempotencyClaim? Claim, IdempotentOutcome? Replay, bool Reused)> BeginAsync(string scope, string fingerprint,
        Func<IdempotentOutcome, Task<bool>> stillThere, CancellationToken cancellation)
    {
        while (true)
        {
            Prune();
            var mine = new Entry(fingerprint, new TaskCompletionSource<IdempotentOutcome?>(TaskCreationOptions.RunContinuationsAsynchronously), time.GetUtcNow());
            var entry = _entries.GetOrAdd(scope, mine);
            if (ReferenceEquals(entry, mine)) return (new Claim(this, scope, mine), null, false);
            if (Expired(entry))
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(scope, entry));
                continue;
            }
            if (entry.Fingerprint != fingerprint) return (null, null, true);
            // The same request is in flight or done: its outcome, or a free key again if it made nothing.
            if (await entry.Outcome.Task.WaitAsync(cancellation) is { } outcome)
            {
                if (await stillThere(outcome)) return (null, outcome, false);
                _entries.TryRemove(new KeyValuePair<string, Entry>(scope, entry));
            }
        }
    }

    bool Expired(Entry entry) => entry.Outcome.Task.IsCompleted && entry.CreatedAt < time.GetUtcNow() - options.Value.Retention;

    /// <summary>Drops expired keys, then the oldest beyond the bound: a sweep reads every key, so it runs once per tenth of the retention or when over the bound.</summary>
    void Prune()
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        if (now < _nextSweep && _entries.Count <= settings.MaxKeys) return;
        _nextSweep = now + settings.Retention / 10;
        foreach (var (key, entry) in _entries)
            if (Expired(entry)) _entries.TryRemove(key, out _);
        var excess = _entries.Count - settings.MaxKeys;
        if (excess > 0)
            foreach (var (key, _) in _entries.Where(e => e.Value.Outcome.Task.IsCompleted).OrderBy(e => e.Value.CreatedAt).Take(excess).ToList())
                _entries.TryRemove(key, out _);
    }
}
