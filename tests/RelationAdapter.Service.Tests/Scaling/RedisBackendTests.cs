using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using RelationAdapter.Jobs;
using RelationAdapter.Service.Edits;
using RelationAdapter.Service.Tests.Support;
using StackExchange.Redis;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Redis;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>
/// Several replicas in one test process sharing one real Redis: any replica serves any job, relations and
/// capacity are shared, and a job outlives the worker that ran it and a Redis restart.
/// </summary>
[Collection(RedisCollection.Name)]
[Trait("Category", "Redis")]
public sealed partial class RedisBackendTests(RedisServer redis) : IAsyncLifetime
{
    readonly List<IAsyncDisposable> _replicas = [];

    public Task InitializeAsync() => redis.FlushAsync();

    public async Task DisposeAsync()
    {
        foreach (var replica in Enumerable.Reverse(_replicas)) await replica.DisposeAsync();
    }

    Dictionary<string, string?> Settings(string role, string name, int capacity = 32) => new()
    {
        ["Queue:Backend"] = "redis",
        ["ConnectionStrings:Redis"] = redis.ConnectionString,
        ["Service:Role"] = role,
        ["Service:InstanceName"] = name,
        ["Queue:ClaimTimeout"] = "00:00:02",
        ["Queue:Capacity"] = capacity.ToString(),
    };

    async Task<(ServiceFactory Factory, HttpClient Client)> ReplicaAsync(string role, string name, int capacity = 32, string grace = "00:00:02",
        Dictionary<string, string?>? more = null)
    {
        var factory = new ServiceFactory { Settings = Settings(role, name, capacity) };
        factory.Settings["Queue:ShutdownGracePeriod"] = grace;
        foreach (var (key, value) in more ?? []) factory.Settings[key] = value;
        _replicas.Add(factory);
        return (factory, await factory.ReadyClientAsync());
    }

    [Fact]
    public async Task A_job_submitted_on_one_replica_is_run_by_a_worker_and_read_streamed_and_downloaded_on_another()
    {
        var (_, front) = await ReplicaAsync("api", "api-1");
        var (_, other) = await ReplicaAsync("api", "api-2");

        var id = await Api.SubmitAsync(front, Api.EditForm());
        // The stream is open before any worker exists, so it sees the whole run.
        using var stream = await other.GetAsync($"/v1/edits/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        await ReplicaAsync("worker", "gpu-1");
        var events = Sse.Parse(await stream.Content.ReadAsStringAsync());
        Assert.Equal("succeeded", events[^1].Kind);
        Assert.Contains(events, e => e.Kind == "progress");
        Assert.Equal(events.Select(e => e.Id).Order(), events.Select(e => e.Id)); // in order, resumable

        var view = await Api.WaitForAsync(other, id, "succeeded");
        Assert.Equal("gpu-1", view.GetProperty("worker").GetString());
        Assert.Equal(await Api.BytesAsync(front, $"/v1/edits/{id}/result"), await Api.BytesAsync(other, $"/v1/edits/{id}/result"));
        var listed = await (await other.GetAsync("/v1/edits")).JsonAsync();
        Assert.Equal(id, listed.GetProperty("items")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task A_cancel_on_one_replica_stops_a_job_running_on_another_and_removes_a_queued_one_at_once()
    {
        var (_, all) = await ReplicaAsync("all", "gpu-1");
        var (_, front) = await ReplicaAsync("api", "api-1");
        var running = await Api.BusyWorkerAsync(all);
        var queued = await Api.SubmitAsync(all, Api.EditForm());
        Assert.Equal(0, (await Api.WaitForAsync(front, queued, "queued")).GetProperty("queue_position").GetInt32());

        Assert.Equal(HttpStatusCode.Accepted, (await front.DeleteAsync($"/v1/edits/{queued}")).StatusCode);
        Assert.Equal("canceled", (await (await front.GetAsync($"/v1/edits/{queued}")).JsonAsync()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Accepted, (await front.DeleteAsync($"/v1/edits/{running}")).StatusCode);
        var stopped = await Api.WaitForAsync(all, running, "canceled", "succeeded");
        Assert.Equal("canceled", stopped.GetProperty("status").GetString());
        Assert.True(stopped.GetProperty("progress").GetProperty("step").GetInt32() < 50);
        Assert.Equal(HttpStatusCode.Conflict, (await front.DeleteAsync($"/v1/edits/{running}")).StatusCode);
    }

    [Fact]
    public async Task A_relation_made_through_one_replica_is_a_cache_hit_on_another()
    {
        await ReplicaAsync("worker", "gpu-1");
        var (_, first) = await ReplicaAsync("api", "api-1");
        var (_, second) = await ReplicaAsync("api", "api-2");

        var created = await first.PostAsync("/v1/relations", Api.PairForm());
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var relationId = (await created.JsonAsync()).GetProperty("id").GetString()!;

        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync($"/v1/relations/{relationId}")).StatusCode);
        var hitsBefore = await Api.MetricAsync(second, ServiceTelemetry.PrometheusNames.RelationCacheHits);
        var id = await Api.SubmitAsync(second, Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = relationId }, source: Api.Source, withPair: false));
        Assert.Equal("succeeded", (await Api.WaitForAsync(second, id, "succeeded", "failed")).GetProperty("status").GetString());
        Assert.Equal(1, await Api.MetricAsync(second, ServiceTelemetry.PrometheusNames.RelationCacheHits) - hitsBefore);

        // The same pair through the other replica: the same content id, already made.
        var known = await second.PostAsync("/v1/relations", Api.PairForm());
        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        Assert.Equal(relationId, (await known.JsonAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Capacity_queue_positions_and_the_depth_metric_are_global()
    {
        var (_, all) = await ReplicaAsync("all", "gpu-1", capacity: 2);
        var (_, front) = await ReplicaAsync("api", "api-1", capacity: 2);
        var running = await Api.BusyWorkerAsync(all);
        var first = await Api.SubmitAsync(all, Api.EditForm());
        var second = await Api.SubmitAsync(front, Api.EditForm());

        var refused = await front.PostAsync("/v1/edits", Api.EditForm());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:queue-full", (await refused.JsonAsync()).GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await all.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        Assert.Equal(1, (await (await all.GetAsync($"/v1/edits/{second}")).JsonAsync()).GetProperty("queue_position").GetInt32());
        Assert.Equal(0, (await (await front.GetAsync($"/v1/edits/{first}")).JsonAsync()).GetProperty("queue_position").GetInt32());
        Assert.Equal(2, await Api.MetricAsync(front, ServiceTelemetry.PrometheusNames.QueueDepth));
        foreach (var id in new[] { first, second, running }) await front.DeleteAsync($"/v1/edits/{id}");
    }

    [Fact]
    public async Task A_worker_killed_mid_job_leaves_it_to_the_other_worker_which_makes_the_same_image()
    {
        // As an operator checks it: an api replica, two worker processes, kill -9 the one the job view names.
        var (_, front) = await ReplicaAsync("api", "api-1");
        var workers = await Task.WhenAll(new[] { "gpu-a", "gpu-b" }.Select(name => ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["Queue:Backend"] = "redis", ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Service:Role"] = "worker", ["Service:InstanceName"] = name, ["Queue:ClaimTimeout"] = "00:00:02",
        })));
        _replicas.AddRange(workers);
        var form = () => Api.EditForm(new Dictionary<string, string?> { ["steps"] = "40", ["seed"] = "7", ["max_side"] = "256" }, source: Api.Png(256, 256));
        var id = await Api.SubmitAsync(front, form());
        JsonElement view = default;
        await Poll.UntilAsync(async () => (view = await (await front.GetAsync($"/v1/edits/{id}")).JsonAsync()).GetProperty("progress").GetProperty("step").GetInt32() >= 2,
            "no worker got going", seconds: 60);
        var doomed = view.GetProperty("worker").GetString();
        await workers[doomed == "gpu-a" ? 0 : 1].KillAsync();

        var done = await Api.WaitForAsync(front, id, "succeeded", "failed");
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.NotEqual(doomed, done.GetProperty("worker").GetString());

        var uninterrupted = await Api.SubmitAsync(front, form());
        await Api.WaitForAsync(front, uninterrupted, "succeeded");
        Assert.Equal(await Api.BytesAsync(front, $"/v1/edits/{uninterrupted}/result"), await Api.BytesAsync(front, $"/v1/edits/{id}/result"));
    }

    [Fact]
    public async Task A_queued_job_survives_a_redis_restart()
    {
        var (_, front) = await ReplicaAsync("api", "api-1");
        var id = await Api.SubmitAsync(front, Api.EditForm());
        await redis.RestartAsync();

        await ReplicaAsync("worker", "gpu-1");
        string? status = null;
        await Poll.UntilAsync(async () =>
        {
            // Until the api replica has reconnected to the restarted Redis, it answers with a problem (or not at all).
            try
            {
                var response = await front.GetAsync($"/v1/edits/{id}");
                status = response.IsSuccessStatusCode ? (await response.JsonAsync()).GetProperty("status").GetString() : null;
            }
            catch (HttpRequestException) { status = null; }
            return status is "succeeded" or "failed" or "canceled";
        }, $"edit {id} never finished after the restart", seconds: 180);
        Assert.Equal("succeeded", status);
        Assert.Equal([0x89, (byte)'P'], (await Api.BytesAsync(front, $"/v1/edits/{id}/result"))[..2]);
    }

    [Fact]
    public async Task A_worker_shut_down_hands_its_running_job_back_and_leaves_the_queue_to_the_others()
    {
        var (leaving, all) = await ReplicaAsync("all", "gpu-1", grace: "00:00:00.500");
        var running = await Api.BusyWorkerAsync(all);
        var waiting = await Api.SubmitAsync(all, Api.EditForm());
        var (_, front) = await ReplicaAsync("api", "api-1");
        using var stream = await front.GetAsync($"/v1/edits/{running}/events", HttpCompletionOption.ResponseHeadersRead);

        var clock = Stopwatch.StartNew();
        await leaving.DisposeAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"shutdown took {clock.Elapsed}");
        // The handed-back job goes to the end of the queue, and its position says so: the waiting job runs first.
        var handedBack = await (await front.GetAsync($"/v1/edits/{running}")).JsonAsync();
        Assert.Equal(("queued", 1), (handedBack.GetProperty("status").GetString(), handedBack.GetProperty("queue_position").GetInt32()));
        var stillWaiting = await (await front.GetAsync($"/v1/edits/{waiting}")).JsonAsync();
        Assert.Equal(("queued", 0), (stillWaiting.GetProperty("status").GetString(), stillWaiting.GetProperty("queue_position").GetInt32()));

        await ReplicaAsync("worker", "gpu-2");
        await Api.WaitForAsync(front, waiting, "succeeded");
        Assert.Equal("gpu-2", (await Api.WaitForAsync(front, running, "running", "succeeded")).GetProperty("worker").GetString());
        // The stream told the hand-back with an event its contract names, and where in the queue the job went.
        var events = Sse.Parse(await stream.Content.ReadAsStringAsync());
        Assert.All(events, e => Assert.Contains(e.Kind, EditEventStream.ChangeEvents));
        var requeued = events.SkipWhile(e => e.Data.GetProperty("status").GetString() != "running")
            .First(e => e.Data.GetProperty("status").GetString() == "queued");
        Assert.Equal(("status", 1), (requeued.Kind, requeued.Data.GetProperty("queue_position").GetInt32()));
        Assert.Equal("succeeded", events[^1].Kind);
        await front.DeleteAsync($"/v1/edits/{running}");
    }

    [Fact]
    public async Task A_job_handed_back_and_taken_by_another_worker_before_its_watcher_reads_on_is_announced_with_its_place()
    {
        var (leaving, all) = await ReplicaAsync("all", "gpu-1", grace: "00:00:00.500");
        var running = await Api.BusyWorkerAsync(all);
        var (front, api) = await ReplicaAsync("api", "api-1");
        await ReplicaAsync("worker", "gpu-2"); // idle: the queue is empty until the hand-back
        // A watcher that reads on only after gpu-2 has taken the job: what it heard meanwhile waits for it.
        await using var watch = front.Services.GetRequiredService<IJobBoard>().WatchAsync(running, null, CancellationToken.None).GetAsyncEnumerator();
        Assert.True(await watch.MoveNextAsync());
        Assert.Equal(JobStatus.Running, watch.Current.State.Status);

        await leaving.DisposeAsync();
        await Api.WaitForAsync(api, running, "running", "succeeded");
        JobEvent handedBack;
        do Assert.True(await watch.MoveNextAsync());
        while ((handedBack = watch.Current).State.Status != JobStatus.Queued);
        // The place comes with the change: a read after it finds the job running on gpu-2, with no place.
        Assert.Equal(("status", 0), (handedBack.Kind, handedBack.QueuePosition));
    }

    [Fact]
    public async Task An_unreachable_redis_fails_readiness_and_submissions_with_a_clear_problem()
    {
        var factory = new ServiceFactory { Settings = Settings("api", "api-1") };
        factory.Settings["ConnectionStrings:Redis"] = $"127.0.0.1:{LoopbackPort.Free()},connectTimeout=500";
        _replicas.Add(factory);
        var client = factory.CreateClient();

        var ready = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var readiness = await ready.JsonAsync();
        Assert.Equal("backend-unavailable", readiness.GetProperty("status").GetString());
        Assert.Contains("Redis", readiness.GetProperty("error").GetString());

        var refused = await client.PostAsync("/v1/edits", Api.EditForm());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:backend-unavailable", (await refused.JsonAsync()).GetProperty("type").GetString());
        Assert.True(refused.Headers.RetryAfter is not null);

        var relation = await client.PostAsync("/v1/relations", Api.PairForm());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, relation.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:backend-unavailable", (await relation.JsonAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Roles_other_than_all_need_the_redis_backend_and_a_worker_serves_no_api()
    {
        var memory = new ServiceFactory { Settings = { ["Service:Role"] = "api" } };
        var error = Assert.ThrowsAny<Exception>(() => memory.CreateClient());
        Assert.Contains("Queue:Backend=redis", error.ToString());
        await memory.DisposeAsync();

        var (_, worker) = await ReplicaAsync("worker", "gpu-1");
        Assert.Equal(HttpStatusCode.NotFound, (await worker.GetAsync("/v1/edits")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await worker.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task The_stream_and_group_the_scaler_watches_are_the_ones_the_workers_read()
    {
        await ReplicaAsync("worker", "gpu-1");
        var (_, front) = await ReplicaAsync("api", "api-1");
        var id = await Api.SubmitAsync(front, Api.EditForm());
        await Api.WaitForAsync(front, id, "succeeded");
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        // The entry is acknowledged right after the job's end is stored.
        await Poll.UntilAsync(async () => Assert.Single(await connection.GetDatabase().StreamGroupInfoAsync(RedisKeys.EditStream), g => g.Name == RedisKeys.WorkerGroup)
            .PendingMessageCount == 0, "the finished job's entry is still pending", seconds: 10);
        Assert.Contains("gpu-1", (await connection.GetDatabase().StreamConsumerInfoAsync(RedisKeys.EditStream, RedisKeys.WorkerGroup)).Select(c => (string)c.Name!));
    }

    [Fact]
    public async Task An_idempotency_key_makes_one_job_whichever_replicas_its_retries_reach()
    {
        await ReplicaAsync("worker", "gpu-1");
        var (_, first) = await ReplicaAsync("api", "api-1");
        var (_, second) = await ReplicaAsync("api", "api-2");

        async Task<HttpResponseMessage> PostAsync(HttpClient client, string key, string prompt = "make it look like the example")
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits")
                { Content = Api.EditForm(new Dictionary<string, string?> { ["prompt"] = prompt }) };
            request.Headers.Add("Idempotency-Key", key);
            return await client.SendAsync(request);
        }

        var attempts = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => PostAsync(i % 2 == 0 ? first : second, "order-42")));
        Assert.All(attempts, response => Assert.Equal(HttpStatusCode.Accepted, response.StatusCode));
        var ids = await Task.WhenAll(attempts.Select(async response => (await response.JsonAsync()).GetProperty("id").GetString()));
        Assert.Single(ids.Distinct());
        Assert.Single((await (await first.GetAsync("/v1/edits")).JsonAsync()).GetProperty("items").EnumerateArray());

        var reused = await PostAsync(second, "order-42", "another request");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, reused.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:idempotency-key-reused", (await reused.JsonAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_job_whose_end_could_not_be_stored_is_run_again_rather_than_left_running()
    {
        var (_, all) = await ReplicaAsync("all", "gpu-1");
        var running = await Api.BusyWorkerAsync(all);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(redis.ConnectionString);
        // A full Redis refuses the job's next write (noeviction), as a misjudged maxmemory would.
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        await server.ConfigSetAsync("maxmemory", "1");
        // Until Redis has refused a write (it counts its error replies by code: errorstat_OOM).
        await Poll.UntilAsync(async () => (await server.InfoRawAsync("errorstats"))?.Contains("errorstat_OOM:", StringComparison.Ordinal) == true,
            "Redis never refused a write", seconds: 30);
        await server.ConfigSetAsync("maxmemory", "0");

        var done = await Api.WaitForAsync(all, running, "succeeded", "failed", "canceled");
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        await Poll.UntilAsync(async () => (await admin.GetDatabase().StreamPendingAsync(RedisKeys.EditStream, RedisKeys.WorkerGroup)).PendingMessageCount == 0,
            "the finished job's entry is still pending", seconds: 10);
    }

    [Fact]
    public async Task A_relation_request_with_no_worker_is_answered_in_time_and_frees_its_place()
    {
        var (_, front) = await ReplicaAsync("api", "api-1", more: new() { ["Queue:RelationCapacity"] = "1", ["Queue:MaxWaitSeconds"] = "1" });

        var unanswered = await front.PostAsync("/v1/relations", Api.PairForm());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unanswered.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:not-ready", (await unanswered.JsonAsync()).GetProperty("type").GetString());
        // Its place is free again: the next pair is taken (and waits in its turn).
        var next = await front.PostAsync("/v1/relations", Api.PairForm(Api.Png(64, 48, 7)));
        Assert.Equal("urn:relation-adapter:problem:not-ready", (await next.JsonAsync()).GetProperty("type").GetString());

        // A worker that comes later encodes what waited; a retry of the first pair finds it.
        await ReplicaAsync("worker", "gpu-1");
        await Poll.UntilAsync(async () => (await front.PostAsync("/v1/relations", Api.PairForm())).StatusCode == HttpStatusCode.OK,
            "the queued pair was never encoded", seconds: 30);
    }
}
