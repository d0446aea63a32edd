using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Tests.Webhooks;
using StackExchange.Redis;
using OptionsOf = Microsoft.Extensions.Options.Options;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Redis;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>
/// The Redis outbox against a real redis-server: two instances on one Redis stand for two replicas, and a service
/// replica that stops while a delivery waits for its retry leaves it to the next replica.
/// </summary>
[Collection(RedisCollection.Name)]
[Trait("Category", "Redis")]
public sealed class RedisWebhookOutboxTests(RedisServer redis) : IAsyncLifetime
{
    static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    readonly List<RedisConnection> _connections = [];
    readonly List<IAsyncDisposable> _replicas = [];
    readonly SettableTime _time = new(T0);

    public Task InitializeAsync() => redis.FlushAsync();

    public async Task DisposeAsync()
    {
        foreach (var replica in Enumerable.Reverse(_replicas)) await replica.DisposeAsync();
        foreach (var connection in _connections) connection.Dispose();
    }

    sealed class SettableTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>An outbox on its own connection, as a replica has it.</summary>
    RedisWebhookOutbox Replica(WebhooksOptions? options = null) =>
        new(Connect(), OptionsOf.Create(options ?? new WebhooksOptions()), OptionsOf.Create(new QueueOptions()), _time);

    RedisConnection Connect()
    {
        var connection = new RedisConnection(redis.ConnectionString);
        _connections.Add(connection);
        return connection;
    }

    static WebhookDelivery Delivery(string jobId, string webhookEvent = WebhookEvents.Completed) =>
        new(jobId, "https://example.com/hooks?token=t0ken", webhookEvent, [.. "{\"id\":\""u8, .. System.Text.Encoding.UTF8.GetBytes(jobId), .. "\"}"u8, 0xff]);

    static WebhookAttempt Attempt(PendingWebhook pending, WebhookOutcome outcome, DateTimeOffset at, DateTimeOffset? next = null) =>
        new(pending.Delivery.Id, pending.Delivery.Event, pending.AttemptsMade + 1, at, outcome == WebhookOutcome.Delivered ? 204 : 500,
            outcome == WebhookOutcome.Delivered ? null : "The receiver failed.", 12.5, outcome, next);

    [Fact]
    public async Task A_delivery_is_claimed_by_one_replica_only_and_comes_back_as_it_was_added()
    {
        var (first, second) = (Replica(), Replica());
        var delivery = Delivery("ed_1");
        Assert.True(await first.AddAsync(delivery, T0));
        Assert.False(await second.AddAsync(delivery, T0.AddSeconds(1)));
        Assert.Equal(T0, await second.NextDueAsync());

        var pending = Assert.Single(await second.TakeDueAsync(T0, 10));
        Assert.Equal((delivery.Id, delivery.JobId, delivery.Url, delivery.Event), (pending.Delivery.Id, pending.Delivery.JobId, pending.Delivery.Url, pending.Delivery.Event));
        Assert.Equal(delivery.Body, pending.Delivery.Body);
        Assert.Equal((T0, 0), (pending.EnqueuedAt, pending.AttemptsMade));
        Assert.Empty(await first.TakeDueAsync(T0.AddSeconds(5), 10));
        Assert.Empty(await second.TakeDueAsync(T0.AddSeconds(5), 10));
        Assert.Null(await first.NextDueAsync());
    }

    [Fact]
    public async Task Replicas_taking_at_the_same_time_share_the_due_deliveries_without_overlap()
    {
        var replicas = Enumerable.Range(0, 4).Select(_ => Replica()).ToList();
        var ids = new List<string>();
        for (var i = 0; i < 60; i++)
        {
            var delivery = Delivery($"ed_{i}");
            ids.Add(delivery.Id);
            await replicas[i % replicas.Count].AddAsync(delivery, T0.AddMilliseconds(i));
        }

        var takers = replicas.Select(async outbox =>
        {
            var mine = new List<string>();
            while (await outbox.TakeDueAsync(T0.AddMinutes(1), 3) is { Count: > 0 } taken) mine.AddRange(taken.Select(p => p.Delivery.Id));
            return mine;
        });
        var taken = await Task.WhenAll(takers);

        var all = taken.SelectMany(mine => mine).ToList();
        Assert.Equal(ids.Order(), all.Order());
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    [Fact]
    public async Task An_attempt_reschedules_the_delivery_for_any_replica_and_the_last_one_ends_it()
    {
        var (first, second) = (Replica(), Replica());
        await first.AddAsync(Delivery("ed_1"), T0);
        var pending = Assert.Single(await first.TakeDueAsync(T0, 1));
        var failed = Attempt(pending, WebhookOutcome.Retrying, T0, T0.AddSeconds(2));
        await first.CompleteAttemptAsync(pending, failed);

        Assert.Equal(T0.AddSeconds(2), await second.NextDueAsync());
        Assert.Empty(await second.TakeDueAsync(T0.AddSeconds(1), 10));
        var again = Assert.Single(await second.TakeDueAsync(T0.AddSeconds(2), 10));
        Assert.Equal((T0, 1), (again.EnqueuedAt, again.AttemptsMade));
        var delivered = Attempt(again, WebhookOutcome.Delivered, T0.AddSeconds(2));
        await second.CompleteAttemptAsync(again, delivered);

        Assert.Null(await first.NextDueAsync());
        Assert.Empty(await first.TakeDueAsync(T0.AddHours(1), 10));
        Assert.Equal([failed, delivered], await first.AttemptsAsync("ed_1"));
        // Made once, never again: a second "completed" of the job is no second webhook, on any replica.
        Assert.False(await first.AddAsync(Delivery("ed_1"), T0.AddSeconds(3)));
        Assert.False(await second.AddAsync(Delivery("ed_1"), T0.AddSeconds(3)));
        Assert.True(await second.AddAsync(Delivery("ed_1", WebhookEvents.Started), T0.AddSeconds(3)));
    }

    [Fact]
    public async Task A_claim_that_lapses_is_due_again_and_the_late_attempt_is_listed_without_taking_the_delivery_back()
    {
        var options = new WebhooksOptions { Timeout = TimeSpan.FromSeconds(10) };
        var (dying, survivor) = (Replica(options), Replica(options));
        Assert.Equal(TimeSpan.FromSeconds(50), dying.ClaimLease);
        await dying.AddAsync(Delivery("ed_1"), T0);
        var lost = Assert.Single(await dying.TakeDueAsync(T0, 1));

        var lapse = T0 + dying.ClaimLease;
        _time.Now = lapse - TimeSpan.FromMilliseconds(1);
        Assert.Null(await survivor.NextDueAsync());
        Assert.Empty(await survivor.TakeDueAsync(_time.Now, 10));
        _time.Now = lapse;
        Assert.Equal(lapse, await survivor.NextDueAsync());
        var retaken = Assert.Single(await survivor.TakeDueAsync(lapse, 10));
        Assert.Equal(0, retaken.AttemptsMade);

        // The first taker was only slow: its attempt happened, so it is listed, but the claim is the survivor's now.
        var late = Attempt(lost, WebhookOutcome.Delivered, T0.AddSeconds(1));
        await dying.CompleteAttemptAsync(lost, late);
        await dying.ReleaseAsync(lost);
        Assert.Null(await survivor.NextDueAsync());
        var retry = Attempt(retaken, WebhookOutcome.Retrying, lapse, lapse.AddSeconds(1));
        await survivor.CompleteAttemptAsync(retaken, retry);
        Assert.Equal(lapse.AddSeconds(1), await dying.NextDueAsync());
        Assert.Equal([late, retry], await dying.AttemptsAsync("ed_1"));
    }

    [Fact]
    public async Task Forgetting_a_job_drops_its_attempts_and_pending_deliveries_on_every_replica()
    {
        var (first, second) = (Replica(), Replica());
        await first.AddAsync(Delivery("ed_1", WebhookEvents.Started), T0);
        var started = Assert.Single(await first.TakeDueAsync(T0, 1));
        await first.CompleteAttemptAsync(started, Attempt(started, WebhookOutcome.Delivered, T0));
        await first.AddAsync(Delivery("ed_1"), T0);
        var completed = Assert.Single(await first.TakeDueAsync(T0, 1));
        await first.AddAsync(Delivery("ed_2"), T0.AddSeconds(1));

        await second.ForgetJobAsync("ed_1");

        Assert.Empty(await first.AttemptsAsync("ed_1"));
        Assert.Equal(["ed_2"], (await second.TakeDueAsync(T0.AddHours(1), 10)).Select(p => p.Delivery.JobId));
        // An attempt in flight when its job was forgotten has nowhere to show.
        await first.CompleteAttemptAsync(completed, Attempt(completed, WebhookOutcome.Retrying, T0, T0.AddSeconds(1)));
        Assert.Empty(await second.AttemptsAsync("ed_1"));
        Assert.Null(await second.NextDueAsync());
        Assert.True(await second.AddAsync(Delivery("ed_1"), T0.AddSeconds(2)));
    }

    [Fact]
    public async Task A_pending_delivery_outlives_a_redis_restart_and_its_keys_expire_after_the_retention()
    {
        var outbox = Replica();
        await outbox.AddAsync(Delivery("ed_1"), T0);
        var pending = Assert.Single(await outbox.TakeDueAsync(T0, 1));
        await outbox.CompleteAttemptAsync(pending, Attempt(pending, WebhookOutcome.Retrying, T0, T0.AddSeconds(1)));

        await redis.RestartAsync();

        var after = Replica();
        var again = Assert.Single(await after.TakeDueAsync(T0.AddSeconds(1), 1));
        Assert.Equal(Delivery("ed_1").Body, again.Delivery.Body);
        Assert.Equal(1, again.AttemptsMade);
        Assert.Single(await after.AttemptsAsync("ed_1"));

        // Kept for the retry window, the job's retention and a day (10 min + 30 min + 1 d with the defaults).
        Assert.Equal(TimeSpan.FromMinutes(10) + TimeSpan.FromMinutes(30) + TimeSpan.FromDays(1), after.Retention);
        var db = Connect().Database;
        var keys = ((RedisResult[])(await db.ScriptEvaluateAsync("return redis.call('KEYS', '*')"))!).Select(key => (string)key!).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([RedisWebhookOutbox.ClaimsKey, RedisWebhookOutbox.DeliveryKey(again.Delivery.Id), RedisWebhookOutbox.AttemptsKey("ed_1"),
            RedisWebhookOutbox.DeliveriesKey("ed_1")], keys);
        Assert.All(keys, key => Assert.StartsWith(RedisKeys.Prefix, key));
        foreach (var key in keys.Where(key => key != RedisWebhookOutbox.ClaimsKey))
            Assert.InRange(await db.KeyTimeToLiveAsync(key) ?? TimeSpan.Zero, after.Retention - TimeSpan.FromMinutes(1), after.Retention);
    }

    [Fact]
    public async Task A_delivery_waiting_for_its_retry_when_its_replica_stops_is_delivered_by_the_next_replica()
    {
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var firstGone = false;
        // Fails while the first replica lives, so whatever succeeds was sent by the second.
        await using var receiver = await WebhookReceiver.StartAsync(secret,
            (_, _) => Task.FromResult(Volatile.Read(ref firstGone) ? (int)HttpStatusCode.NoContent : (int)HttpStatusCode.InternalServerError));

        var (first, firstClient) = await ServiceReplicaAsync("all", "gpu-1", secret);
        var id = await Api.SubmitAsync(firstClient, Api.EditForm(new Dictionary<string, string?> { ["webhook"] = receiver.Url.ToString() }));
        var failed = await Api.WebhookAttemptsWhenAsync(firstClient, id, attempts => attempts.Count > 0);
        Assert.Equal((500, "retrying"), (failed[0].GetProperty("http_status").GetInt32(), failed[0].GetProperty("outcome").GetString()));

        // The retry waits 1 to 2 s (backoff 2 s): time enough to stop the replica before it comes (a retry that came
        // first would fail too, and be listed like the first).
        await first.DisposeAsync();
        _replicas.Remove(first);
        var firstGoneAt = DateTimeOffset.UtcNow;
        Volatile.Write(ref firstGone, true);

        var (_, secondClient) = await ServiceReplicaAsync("all", "gpu-2", secret);
        var attempts = await Api.WebhookAttemptsWhenAsync(secondClient, id, attempts => attempts.Count > 0 && attempts[^1].GetProperty("outcome").GetString() != "retrying");

        Assert.True(attempts.Count >= 2, $"one attempt failed, one delivered: {JsonSerializer.Serialize(attempts)}");
        Assert.All(attempts.SkipLast(1), attempt => Assert.Equal((500, "retrying"), (attempt.GetProperty("http_status").GetInt32(), attempt.GetProperty("outcome").GetString())));
        Assert.Equal((204, "delivered"), (attempts[^1].GetProperty("http_status").GetInt32(), attempts[^1].GetProperty("outcome").GetString()));
        Assert.Equal(Enumerable.Range(1, attempts.Count), attempts.Select(attempt => attempt.GetProperty("number").GetInt32()));

        var received = receiver.Received;
        // A retry under way while the first replica stopped reached the receiver but was handed back unrecorded.
        Assert.InRange(received.Count, attempts.Count, attempts.Count + 1);
        Assert.All(received, webhook => Assert.True(webhook.SignatureValid));
        Assert.All(received, webhook => Assert.Equal(WebhookDelivery.IdFor(id, WebhookEvents.Completed), webhook.Id));
        Assert.True(received[^1].At >= firstGoneAt);
        using var body = JsonDocument.Parse(received[^1].Body);
        Assert.Equal((id, "succeeded"), (body.RootElement.GetProperty("id").GetString(), body.RootElement.GetProperty("status").GetString()));
    }

    async Task<(ServiceFactory Factory, HttpClient Client)> ServiceReplicaAsync(string role, string name, string secret)
    {
        var factory = new ServiceFactory
        {
            Settings = new()
            {
                ["Queue:Backend"] = "redis",
                ["ConnectionStrings:Redis"] = redis.ConnectionString,
                ["Service:Role"] = role,
                ["Service:InstanceName"] = name,
                ["Webhooks:Secret"] = secret,
                ["Webhooks:AllowPrivateNetworks"] = "true",
                ["Webhooks:InitialBackoff"] = "00:00:02",
                ["Webhooks:MaxBackoff"] = "00:00:02",
                ["Webhooks:MaxAttempts"] = "20",
            },
        };
        _replicas.Add(factory);
        return (factory, await factory.ReadyClientAsync());
    }
}
