using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using StackExchange.Redis;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;

namespace RelationAdapter.Jobs.Redis;

/// <summary>Relation tokens shared by every replica: raw float32 values and their shape, with a sliding expiry.</summary>
public sealed class RedisRelationStore(RedisConnection redis, IOptions<RelationCacheOptions> options) : ISharedRelationStore
{
    public async Task<CachedRelation?> GetAsync(string id)
    {
        var key = RedisKeys.Relation(id);
        var fields = await RedisConnection.Call(() => redis.Database.HashGetAsync(key, ["values", "shape", "created"]));
        if (fields.Any(field => field.IsNull)) return null;
        _ = redis.Database.KeyExpireAsync(key, options.Value.SlidingExpiration, CommandFlags.FireAndForget);
        var values = MemoryMarshal.Cast<byte, float>((byte[])fields[0]!).ToArray();
        var shape = ((string)fields[1]!).Split(',').Select(long.Parse).ToArray();
        return new CachedRelation(id, new RelationTokens(values, shape), DateTimeOffset.FromUnixTimeMilliseconds((long)fields[2]));
    }

    public async Task KeepAsync(CachedRelation relation)
    {
        if (!await RedisConnection.Call(() => redis.Database.KeyExpireAsync(RedisKeys.Relation(relation.Id), options.Value.SlidingExpiration)))
            await SetAsync(relation);
    }

    public async Task<bool> OwnsAsync(string owner, string id) =>
        await RedisConnection.Call(() => redis.Database.KeyExpireAsync(RedisKeys.RelationOwner(owner, id), options.Value.SlidingExpiration));

    public async Task<bool> GrantAsync(string owner, string id)
    {
        var key = RedisKeys.RelationOwner(owner, id);
        var expiry = options.Value.SlidingExpiration;
        if (await RedisConnection.Call(() => redis.Database.StringSetAsync(key, 1, expiry, When.NotExists))) return true;
        await RedisConnection.Call(() => redis.Database.KeyExpireAsync(key, expiry));
        return false;
    }

    public async Task SetAsync(CachedRelation relation)
    {
        var key = RedisKeys.Relation(relation.Id);
        var values = MemoryMarshal.AsBytes(relation.Tokens.Values.AsSpan()).ToArray();
        await RedisConnection.Call(async () =>
        {
            var transaction = redis.Database.CreateTransaction();
            _ = transaction.HashSetAsync(key, [new("values", values), new("shape", string.Join(',', relation.Tokens.Shape)),
                new("created", relation.CreatedAt.ToUnixTimeMilliseconds())]);
            _ = transaction.KeyExpireAsync(key, options.Value.SlidingExpiration);
            return await transaction.ExecuteAsync();
        });
    }
}

/// <summary>
/// POST /v1/relations through Redis: the padded pair is stored once under its id (concurrent requests on any
/// replica join that one encoding), its id goes into the relation stream for the workers, and the requests
/// wait for the worker's announcement (or find the tokens in the shared cache).
/// </summary>
public sealed class RedisRelationRequests : IRelationRequests, IDisposable
{
    static readonly TimeSpan PendingLease = TimeSpan.FromMinutes(10);
    static readonly TimeSpan Recheck = TimeSpan.FromSeconds(2);

    // KEYS: pending, stream. ARGV: before png, after png, lease seconds, id, work channel.
    const string QueueScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'prompt_image', ARGV[1], 'reference_image', ARGV[2])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        redis.call('XADD', KEYS[2], '*', 'relation', ARGV[4])
        redis.call('PUBLISH', ARGV[5], 'relation')
        return 1
        """;

    readonly RedisConnection _redis;
    readonly RelationCache _cache;
    readonly ConcurrentDictionary<string, TaskCompletionSource<string?>> _announced = new(StringComparer.Ordinal);
    readonly Action<RedisChannel, RedisValue> _onDone;
    readonly TimeSpan _maxWait;
    readonly SemaphoreSlim _subscribing = new(1);
    bool _subscribed;

    public RedisRelationRequests(RedisConnection redis, RelationCache cache, IOptions<QueueOptions> options)
    {
        _redis = redis;
        _cache = cache;
        _maxWait = TimeSpan.FromSeconds(Math.Max(1, options.Value.MaxWaitSeconds));
        _onDone = (_, message) =>
        {
            var (id, error) = ((string)message!).Split('\n', 2) is [var done, var why] ? (done, why) : ((string)message!, null);
            if (_announced.TryGetValue(id, out var waiting)) waiting.TrySetResult(error);
        };
    }

    /// <summary>Listens for the workers' announcements from the first request on (Redis may be away when the replica starts).</summary>
    async Task EnsureSubscribedAsync()
    {
        if (_subscribed) return;
        await _subscribing.WaitAsync();
        try
        {
            if (!_subscribed)
                await RedisConnection.Call(async () => { await _redis.Subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.RelationDoneChannel), _onDone); return true; });
            _subscribed = true;
        }
        finally
        {
            _subscribing.Release();
        }
    }

    public async Task<(Task<CachedRelation> Done, bool Joined)> EncodeAsync(RelationWork work, CancellationToken cancellation)
    {
        var announced = _announced.GetOrAdd(work.Id, _ => new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await EnsureSubscribedAsync();
            var queued = (long)await RedisConnection.Call(() => _redis.Database.ScriptEvaluateAsync(QueueScript,
                [RedisKeys.RelationPending(work.Id), RedisKeys.RelationStream],
                [ImageCodec.Encode(work.Pair.PaddedPromptImage!, OutputFormat.Png), ImageCodec.Encode(work.Pair.PaddedReferenceImage!, OutputFormat.Png),
                    (long)PendingLease.TotalSeconds, work.Id, RedisKeys.WorkChannel]));
            if (queued == 1 && announced.Task.IsCompleted)
            {
                // The announcement of an earlier encoding of this pair, not yet cleared: this encoding gets its own.
                announced = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
                _announced[work.Id] = announced;
            }
            return (WaitAsync(work, announced, cancellation), queued == 0);
        }
        catch
        {
            _announced.TryRemove(new KeyValuePair<string, TaskCompletionSource<string?>>(work.Id, announced));
            work.Finish();
            throw;
        }
    }

    /// <summary>
    /// The relation once a worker encoded it, waited for at most Queue:MaxWaitSeconds (no worker may be running:
    /// workers scale from zero) and no longer than the client stays; the admission place is held while it waits.
    /// The encoding itself stays queued in Redis, so a retry joins it.
    /// </summary>
    async Task<CachedRelation> WaitAsync(RelationWork work, TaskCompletionSource<string?> announced, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(_maxWait);
        try
        {
            while (true)
            {
                var heard = await Task.WhenAny(announced.Task, Task.Delay(Recheck, deadline.Token)) == announced.Task;
                if (!heard && deadline.IsCancellationRequested)
                {
                    cancellation.ThrowIfCancellationRequested();
                    throw new TimeoutException($"no worker encoded the pair within {_maxWait.TotalSeconds:F0} s; it stays queued, and a retry joins it.");
                }
                if (heard && await announced.Task is { } error) throw new InvalidOperationException(error);
                // Ended is checked before the cache is read: a worker stores the tokens before it ends the encoding.
                var ended = heard || !await RedisConnection.Call(() => _redis.Database.KeyExistsAsync(RedisKeys.RelationPending(work.Id)));
                if (await _cache.PeekAsync(work.Id) is { } relation) return relation;
                if (ended) throw new InvalidOperationException("the encoding ended without storing the relation.");
            }
        }
        finally
        {
            _announced.TryRemove(new KeyValuePair<string, TaskCompletionSource<string?>>(work.Id, announced));
            work.Finish();
        }
    }

    public void Dispose()
    {
        if (_subscribed) _redis.Subscriber.Unsubscribe(RedisChannel.Literal(RedisKeys.RelationDoneChannel), _onDone, CommandFlags.FireAndForget);
        _subscribing.Dispose();
    }
}
