using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Http;

/// <summary>What a request with an idempotency key produced: its status code and the job or relation it made.</summary>
public sealed record IdempotentOutcome(int StatusCode, string Id);

/// <summary>
/// <c>Idempotency-Key</c> (Stripe's semantics): the same key and the same request within the retention get
/// the original outcome — concurrent duplicates wait for the first and make nothing themselves; the same key
/// with another request is refused. Keys are scoped by API key and route. A request that fails without
/// making anything leaves its key free, so the client can retry it.
/// </summary>
public sealed class Idempotency(IOptions<IdempotencyOptions> options, TimeProvider time) : IDisposable
{
    // Retries of a known key skip the queue place (they make nothing), so they have a small pool of their own.
    readonly SemaphoreSlim _retries = new(options.Value.ConcurrentRetries);

    /// <summary>A slot to read a retry's body in; null when all are taken.</summary>
    public IDisposable? TryEnterRetry() => _retries.Wait(0) ? new RetrySlot(_retries) : null;

    public void Dispose() => _retries.Dispose();

    sealed class RetrySlot(SemaphoreSlim retries) : IDisposable
    {
        int _held = 1;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _held, 0) == 1) retries.Release();
        }
    }

    public const string Header = "Idempotency-Key";
    public const int MaxKeyLength = 255;

    internal sealed record Entry(string Fingerprint, TaskCompletionSource<IdempotentOutcome?> Outcome, DateTimeOffset CreatedAt);

    readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A claim on a key for one request: complete it with the outcome, or dispose it to free the key.</summary>
    public sealed class Claim : IDisposable
    {
        readonly Idempotency _keys;
        readonly string _scope;
        readonly Entry _entry;

        internal Claim(Idempotency keys, string scope, Entry entry) => (_keys, _scope, _entry) = (keys, scope, entry);

        public void Complete(IdempotentOutcome outcome) => _entry.Outcome.TrySetResult(outcome);

        public void Dispose()
        {
            if (_entry.Outcome.Task.IsCompleted) return;
            _keys._entries.TryRemove(new KeyValuePair<string, Entry>(_scope, _entry));
            _entry.Outcome.TrySetResult(null);
        }
    }

    /// <summary>Whether the key was used in this scope (within the retention).</summary>
    public bool Knows(string scope) => _entries.ContainsKey(scope);

    /// <summary>
    /// Claims the key for this request (<c>Claim</c> set), or answers with the outcome of the same request made
    /// before (<c>Replay</c>), or finds the key used for another request (<c>Reused</c>).
    /// </summary>
    /// <remarks>An outcome whose job or relation is gone (<paramref name="stillThere"/> false) frees the key: the request runs anew.</remarks>
    public async Task<(Claim? Claim, IdempotentOutcome? Replay, bool Reused)> BeginAsync(string scope, string fingerprint,
        Func<IdempotentOutcome, Task<bool>> stillThere, CancellationToken cancellation)
    {
        while (true)
        {
            Prune();
            var mine = new Entry(fingerprint, new TaskCompletionSource<IdempotentOutcome?>(TaskCreationOptions.RunContinuationsAsynchronously), time.GetUtcNow());
            var entry = _entries.GetOrAdd(scope, mine);
            if (ReferenceEquals(entry, mine)) return (new Claim(this, scope, mine), null, false);
            if (entry.Fingerprint != fingerprint) return (null, null, true);
            // The same request is in flight or done: its outcome, or a free key again if it made nothing.
            if (await entry.Outcome.Task.WaitAsync(cancellation) is { } outcome)
            {
                if (await stillThere(outcome)) return (null, outcome, false);
                _entries.TryRemove(new KeyValuePair<string, Entry>(scope, entry));
            }
        }
    }

    void Prune()
    {
        var settings = options.Value;
        var cutoff = time.GetUtcNow() - settings.Retention;
        foreach (var (key, entry) in _entries)
            if (entry.CreatedAt < cutoff && entry.Outcome.Task.IsCompleted) _entries.TryRemove(key, out _);
        var excess = _entries.Count - settings.MaxKeys;
        if (excess > 0)
            foreach (var (key, _) in _entries.Where(e => e.Value.Outcome.Task.IsCompleted).OrderBy(e => e.Value.CreatedAt).Take(excess).ToList())
                _entries.TryRemove(key, out _);
    }

    /// <summary>The request as content: every field and every file's bytes (multipart boundaries and field order aside).</summary>
    public static async Task<string> FingerprintAsync(IFormCollection form, CancellationToken cancellation)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, values) in form.OrderBy(field => field.Key, StringComparer.Ordinal))
            hash.AppendData(Encoding.UTF8.GetBytes($"field:{name}={string.Join('\u0000', values.ToArray())}\n"));
        foreach (var file in form.Files.OrderBy(file => file.Name, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"file:{file.Name}:{file.Length}\n"));
            await using var stream = file.OpenReadStream();
            hash.AppendData(await SHA256.HashDataAsync(stream, cancellation));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
