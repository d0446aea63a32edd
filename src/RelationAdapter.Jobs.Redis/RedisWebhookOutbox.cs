using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// The webhook outbox of every replica, in Redis, so deliveries survive restarts and any replica makes them. Each
/// delivery is a hash; unclaimed ones wait in a sorted set by due time, claimed ones in another by the end of their
/// lease. Every change is one Lua script, so a claim moves a delivery out of the due set in the same step that reads
/// it: two replicas never both take it. A claim carries a token only its taker knows; an attempt recorded under a
/// claim that lapsed and went to another replica is still listed (the receiver may have acted on it) but leaves
/// the scheduling to that replica.
/// </summary>
/// <remarks>
/// Scripts name the delivery hashes they reach from a prefix rather than in KEYS, as TakeDue cannot know them
/// beforehand; like the rest of the backend, this assumes one Redis (or a primary with replicas), not a cluster.
/// Due times are the replicas' own clocks: the lease is long enough that ordinary clock skew does not matter.
/// </remarks>
public sealed class RedisWebhookOutbox : IWebhookOutbox
{
    const string KeyPrefix = RedisKeys.Prefix + "webhook:";
    const string DeliveryPrefix = KeyPrefix + "delivery:";

    /// <summary>Unclaimed delivery ids scored by when they are due (Unix ms).</summary>
    public const string DueKey = KeyPrefix + "due";

    /// <summary>Claimed delivery ids scored by when their claim lapses (Unix ms).</summary>
    public const string ClaimsKey = KeyPrefix + "claims";

    /// <summary>The delivery: job, url, event, body, enqueued (round-trip text), attempts (made so far), claim (the holder's token).</summary>
    public static string DeliveryKey(string deliveryId) => DeliveryPrefix + deliveryId;

    /// <summary>The job's attempts, oldest first, each as JSON.</summary>
    public static string AttemptsKey(string jobId) => $"{KeyPrefix}job:{jobId}:attempts";

    /// <summary>Every delivery id ever added for the job, pending or made: what makes a second add of one refused.</summary>
    public static string DeliveriesKey(string jobId) => $"{KeyPrefix}job:{jobId}:deliveries";

    // Besides the attempt (bounded by its timeout), a claim has to cover taking the delivery and writing the attempt's
    // record, over a slow Redis (the client's own timeout is 5 s) or through a long GC pause. Lapsing early only means a delivery made
    // twice, which receivers drop by its webhook-id; lapsing late only delays a dead replica's deliveries by as much.
    static readonly TimeSpan LeaseMargin = TimeSpan.FromSeconds(30);

    // The started delivery is written before the job ends and a job that lost its worker starts again (the same
    // delivery id, refused by its marker) up to Queue:ClaimTimeout (at most an hour) later; a day covers that and an
    // outage of every replica, during which pending deliveries must not expire.
    static readonly TimeSpan RetentionMargin = TimeSpan.FromDays(1);

    // KEYS: delivery, due, deliveries of the job. ARGV: id, job, url, event, body, enqueued text, due (ms), ttl (s).
    const string AddScript = """
        if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'job', ARGV[2], 'url', ARGV[3], 'event', ARGV[4], 'body', ARGV[5], 'enqueued', ARGV[6], 'attempts', 0)
        redis.call('EXPIRE', KEYS[1], ARGV[8])
        redis.call('ZADD', KEYS[2], ARGV[7], ARGV[1])
        redis.call('SADD', KEYS[3], ARGV[1])
        redis.call('EXPIRE', KEYS[3], ARGV[8])
        return 1
        """;

    // KEYS: due, claims. ARGV: now (ms), max, lease end (ms), claim token, delivery key prefix.
    // Lapsed claims go back to the due set first, due when they lapsed, so they are taken in turn like any other.
    // An id whose hash expired (no replica ran for a day past its retry window) is dropped on the way.
    const string TakeScript = """
        local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES')
        for i = 1, #lapsed, 2 do
          redis.call('ZREM', KEYS[2], lapsed[i])
          redis.call('ZADD', KEYS[1], lapsed[i + 1], lapsed[i])
        end
        local taken = {}
        for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
          local key = ARGV[5] .. id
          local fields = redis.call('HMGET', key, 'job', 'url', 'event', 'body', 'enqueued', 'attempts')
          redis.call('ZREM', KEYS[1], id)
          if fields[1] then
            redis.call('HSET', key, 'claim', ARGV[4])
            redis.call('ZADD', KEYS[2], ARGV[3], id)
            table.insert(taken, id)
            for _, value in ipairs(fields) do table.insert(taken, value) end
          end
        end
        return taken
        """;

    // KEYS: delivery, due, claims, attempts of the job, deliveries of the job.
    // ARGV: id, claim token, attempt json, next due (ms; '' when it was the last), attempts made, ttl (s).
    const string CompleteScript = """
        if redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 0 then return 0 end
        redis.call('RPUSH', KEYS[4], ARGV[3])
        redis.call('EXPIRE', KEYS[4], ARGV[6])
        redis.call('EXPIRE', KEYS[5], ARGV[6])
        if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[2] then return 1 end
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('ZREM', KEYS[2], ARGV[1])
        if ARGV[4] == '' then
          redis.call('DEL', KEYS[1])
        else
          redis.call('HSET', KEYS[1], 'attempts', ARGV[5])
          redis.call('HDEL', KEYS[1], 'claim')
          redis.call('EXPIRE', KEYS[1], ARGV[6])
          redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
        end
        return 2
        """;

    // KEYS: delivery, due, claims. ARGV: id, claim token, now (ms).
    const string ReleaseScript = """
        if redis.call('HGET', KEYS[1], 'claim') ~= ARGV[2] then return 0 end
        redis.call('HDEL', KEYS[1], 'claim')
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
        return 1
        """;

    // KEYS: deliveries of the job, attempts of the job, due, claims. ARGV: delivery key prefix.
    const string ForgetScript = """
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          redis.call('DEL', ARGV[1] .. id)
          redis.call('ZREM', KEYS[3], id)
          redis.call('ZREM', KEYS[4], id)
        end
        redis.call('DEL', KEYS[1], KEYS[2])
        return 1
        """;

    readonly RedisConnection _redis;
    readonly TimeProvider _time;
    readonly long _retentionSeconds;
    // The token of the claim each handed-out delivery was taken under, by instance: a record's equality would confuse
    // two claims of the same delivery (this replica's lapsed one and its new one).
    readonly ConditionalWeakTable<PendingWebhook, string> _tokens = new();

    public RedisWebhookOutbox(RedisConnection redis, IOptions<WebhooksOptions> webhooks, IOptions<QueueOptions> queue, TimeProvider time)
    {
        _redis = redis;
        _time = time;
        ClaimLease = 2 * webhooks.Value.Timeout + LeaseMargin;
        Retention = webhooks.Value.RetryWindow + queue.Value.ResultRetention + RetentionMargin;
        _retentionSeconds = (long)Math.Ceiling(Retention.TotalSeconds);
    }

    /// <summary>How long a claim holds before the delivery is due again: twice the attempt timeout and half a minute.</summary>
    public TimeSpan ClaimLease { get; }

    /// <summary>
    /// How long a job's attempts and delivery markers, and a pending delivery, are kept after their last change: the
    /// last attempt is at most the retry window after the job ended, and the job can be read for its result retention
    /// after that; a day more covers the run between a job's start and end and outages.
    /// </summary>
    public TimeSpan Retention { get; }

    IDatabase Db => _redis.Database;

    static long Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds();

    public async ValueTask<bool> AddAsync(WebhookDelivery delivery, DateTimeOffset now, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var added = await RedisConnection.Call(() => Db.ScriptEvaluateAsync(AddScript,
            [DeliveryKey(delivery.Id), DueKey, DeliveriesKey(delivery.JobId)],
            [delivery.Id, delivery.JobId, delivery.Url, delivery.Event, delivery.Body, now.ToString("O", CultureInfo.InvariantCulture), Ms(now), _retentionSeconds]));
        return (long)added == 1;
    }

    public async ValueTask<IReadOnlyList<PendingWebhook>> TakeDueAsync(DateTimeOffset now, int max, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        if (max <= 0) return [];
        var token = Guid.NewGuid().ToString("N");
        var result = await RedisConnection.Call(() => Db.ScriptEvaluateAsync(TakeScript, [DueKey, ClaimsKey],
            [Ms(now), max, Ms(now + ClaimLease), token, DeliveryPrefix]));
        var fields = (RedisResult[])result!;
        var taken = new List<PendingWebhook>(fields.Length / 7);
        for (var i = 0; i + 6 < fields.Length; i += 7)
        {
            var delivery = new WebhookDelivery((string)fields[i + 1]!, (string)fields[i + 2]!, (string)fields[i + 3]!, (byte[])fields[i + 4]!)
            {
                Id = (string)fields[i]!,
            };
            var enqueuedAt = DateTimeOffset.ParseExact((string)fields[i + 5]!, "O", CultureInfo.InvariantCulture);
            var pending = new PendingWebhook(delivery, enqueuedAt, (int)fields[i + 6]);
            _tokens.AddOrUpdate(pending, token);
            taken.Add(pending);
        }
        return taken;
    }

    public async ValueTask<DateTimeOffset?> NextDueAsync(CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var due = RedisConnection.Call(() => Db.SortedSetRangeByRankWithScoresAsync(DueKey, 0, 0));
        var claims = RedisConnection.Call(() => Db.SortedSetRangeByRankWithScoresAsync(ClaimsKey, 0, 0));
        await Task.WhenAll(due, claims);
        double? next = due.Result is [var first, ..] ? first.Score : null;
        // A lapsed claim is due again, from when it lapsed, though no replica has moved it back yet.
        if (claims.Result is [var claim, ..] && claim.Score <= Ms(_time.GetUtcNow()) && (next is null || claim.Score < next)) next = claim.Score;
        return next is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds((long)ms) : null;
    }

    public async ValueTask CompleteAttemptAsync(PendingWebhook pending, WebhookAttempt attempt, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var delivery = pending.Delivery;
        var nextDue = attempt.NextAttemptAt is { } next ? (RedisValue)Ms(next) : RedisValue.EmptyString;
        await RedisConnection.Call(() => Db.ScriptEvaluateAsync(CompleteScript,
            [DeliveryKey(delivery.Id), DueKey, ClaimsKey, AttemptsKey(delivery.JobId), DeliveriesKey(delivery.JobId)],
            [delivery.Id, TokenOf(pending), JsonSerializer.Serialize(attempt, RedisConnection.Json), nextDue, attempt.Number, _retentionSeconds]));
        _tokens.Remove(pending);
    }

    public async ValueTask ReleaseAsync(PendingWebhook pending, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var id = pending.Delivery.Id;
        await RedisConnection.Call(() => Db.ScriptEvaluateAsync(ReleaseScript, [DeliveryKey(id), DueKey, ClaimsKey],
            [id, TokenOf(pending), Ms(_time.GetUtcNow())]));
        _tokens.Remove(pending);
    }

    public async ValueTask<IReadOnlyList<WebhookAttempt>> AttemptsAsync(string jobId, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        var stored = await RedisConnection.Call(() => Db.ListRangeAsync(AttemptsKey(jobId)));
        return stored.Select(json => JsonSerializer.Deserialize<WebhookAttempt>((string)json!, RedisConnection.Json)!).ToList();
    }

    public async ValueTask ForgetJobAsync(string jobId, CancellationToken cancellation = default)
    {
        cancellation.ThrowIfCancellationRequested();
        await RedisConnection.Call(() => Db.ScriptEvaluateAsync(ForgetScript, [DeliveriesKey(jobId), AttemptsKey(jobId), DueKey, ClaimsKey],
            [DeliveryPrefix]));
    }

    // A delivery this instance did not hand out holds no claim here: its attempt is listed, its scheduling left alone.
    string TokenOf(PendingWebhook pending) => _tokens.TryGetValue(pending, out var token) ? token : "";
}
