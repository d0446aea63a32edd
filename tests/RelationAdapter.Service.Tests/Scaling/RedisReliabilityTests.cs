using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Service.Tests.Edits;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using StackExchange.Redis;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Redis;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>
/// What the scale-out deployment promises when things go wrong: nothing accepted is lost (relations that expire,
/// are evicted or flushed; a worker that never saw them), nothing refused is reported wrongly (a Redis that stops
/// or fills up), and uploads in progress hold no queue place.
/// </summary>
public sealed partial class RedisBackendTests
{
    [Fact]
    public async Task A_relation_gone_from_redis_is_stored_again_on_next_use_and_a_fresh_worker_runs_every_accepted_edit()
    {
        var expiry = new Dictionary<string, string?> { ["RelationCache:SlidingExpiration"] = "00:01:00" };
        var (_, front) = await ReplicaAsync("api", "api-1", more: expiry);
        var (firstWorker, _) = await ReplicaAsync("worker", "gpu-1", more: expiry);
        await Api.WaitForAsync(front, await Api.SubmitAsync(front, Api.EditForm()), "succeeded");
        var known = await front.PostAsync("/v1/relations", Api.PairForm()); // the api replica now holds it in memory
        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        var relationId = (await known.JsonAsync()).GetProperty("id").GetString()!;
        _replicas.Remove(firstWorker);
        await firstWorker.DisposeAsync();

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var key = RedisKeys.Relation(relationId);
        // Every use restarts the shared copy's expiry, including a hit in the api's own memory.
        await db.KeyExpireAsync(key, TimeSpan.FromSeconds(5));
        var byPair = await Api.SubmitAsync(front, Api.EditForm());
        Assert.True(await db.KeyTimeToLiveAsync(key) > TimeSpan.FromSeconds(30));

        // Expired, evicted or flushed: the next use stores it again, by pair and by id alike.
        await db.KeyDeleteAsync(key);
        var byId = await Api.SubmitAsync(front, Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = relationId }, source: Api.Source, withPair: false));
        Assert.True(await db.KeyExistsAsync(key));
        // Gone again, and nobody uses it before the worker runs: a job that came with the pair still runs.
        await db.KeyDeleteAsync(key);
        var pairAfterLoss = await Api.SubmitAsync(front, Api.EditForm());
        await db.KeyDeleteAsync(key);

        await ReplicaAsync("worker", "gpu-2", more: expiry); // a fresh worker: nothing in its memory
        foreach (var id in new[] { byPair, byId, pairAfterLoss })
            Assert.Equal("succeeded", (await Api.WaitForAsync(front, id, "succeeded", "failed")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Jobs_of_a_cached_relation_carry_a_copy_of_its_kept_pair_and_run_with_relation_and_kept_pair_gone()
    {
        var (_, front) = await ReplicaAsync("api", "api-1");
        var (worker, _) = await ReplicaAsync("worker", "gpu-1");
        await Api.WaitForAsync(front, await Api.SubmitAsync(front, Api.EditForm()), "succeeded");
        var relationId = (await (await front.PostAsync("/v1/relations", Api.PairForm())).JsonAsync()).GetProperty("id").GetString()!; // known: no work
        _replicas.Remove(worker);
        await worker.DisposeAsync();
        // The relation is cached: the api sends no pair of its own, Redis copies the kept one into each job.
        var waiting = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => Api.SubmitAsync(front, Api.EditForm(new Dictionary<string, string?> { ["seed"] = i.ToString() }))));
        var byId = await Api.SubmitAsync(front, Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = relationId }, source: Api.Source, withPair: false));

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var db = connection.GetDatabase();
        var kept = await db.HashGetAsync(RedisKeys.RelationPair(relationId), ["prompt_image", "reference_image"]);
        Assert.All(kept, image => Assert.False(image.IsNull));
        foreach (var id in waiting.Append(byId))
            Assert.Equal(kept.Select(image => (byte[])image!), (await db.HashGetAsync(RedisKeys.Inputs(id), ["prompt_image", "reference_image"])).Select(image => (byte[])image!));

        // Both the relation and the kept pair gone while they waited: each job still has its own copy.
        await db.KeyDeleteAsync([RedisKeys.Relation(relationId), RedisKeys.RelationPair(relationId)]);
        await ReplicaAsync("worker", "gpu-2");
        foreach (var id in waiting.Append(byId))
            Assert.Equal("succeeded", (await Api.WaitForAsync(front, id, "succeeded", "failed")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_relation_id_whose_relation_expired_while_its_job_waited_fails_as_a_server_fault_not_as_bad_input()
    {
        var (_, front) = await ReplicaAsync("api", "api-1");
        var (worker, _) = await ReplicaAsync("worker", "gpu-1");
        var created = await front.PostAsync("/v1/relations", Api.PairForm());
        var relationId = (await created.JsonAsync()).GetProperty("id").GetString()!;
        _replicas.Remove(worker);
        await worker.DisposeAsync();
        var id = await Api.SubmitAsync(front, Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = relationId }, source: Api.Source, withPair: false));
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await connection.GetDatabase().KeyDeleteAsync(RedisKeys.Relation(relationId));

        await ReplicaAsync("worker", "gpu-2");
        var failed = await Api.WaitForAsync(front, id, "succeeded", "failed");
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var error = failed.GetProperty("error");
        Assert.Equal("urn:relation-adapter:problem:relation-unavailable", error.GetProperty("type").GetString());
        Assert.Equal(503, error.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Jobs_stored_before_redis_went_away_are_answered_202_and_run_once_it_is_back()
    {
        var (_, front) = await ReplicaAsync("api", "api-1"); // no worker: the jobs wait
        var waiting = Enumerable.Range(0, 3).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() };
            request.Headers.Add("Prefer", "wait=60");
            return await front.SendAsync(request);
        }).ToList();
        await using (var connection = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString))
            await Poll.UntilAsync(async () => await connection.GetDatabase().SortedSetLengthAsync(RedisKeys.Queued) == 3, "the jobs were never queued");
        var stored = await (await front.GetAsync("/v1/edits")).JsonAsync();
        var id = stored.GetProperty("items")[0].GetProperty("id").GetString()!;
        using var stream = await front.GetAsync($"/v1/edits/{id}/events", HttpCompletionOption.ResponseHeadersRead);

        await redis.StopAsync();
        var answers = await Task.WhenAll(waiting);
        foreach (var answer in answers)
        {
            Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
            Assert.NotNull(answer.Headers.Location);
        }
        // The event stream ends with a word to reconnect rather than being cut.
        var events = Sse.Parse(await stream.Content.ReadAsStringAsync());
        Assert.Equal("reconnect", events[^1].Kind);

        // While Redis is away, refusals come at once (no waiting out timeouts), each a 503 with Retry-After.
        var clock = Stopwatch.StartNew();
        var refused = await front.PostAsync("/v1/edits", Api.EditForm());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"answered after {clock.ElapsedMilliseconds} ms");
        Assert.Equal("urn:relation-adapter:problem:backend-unavailable", (await refused.JsonAsync()).GetProperty("type").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);

        await redis.StartAgainAsync();
        await ReplicaAsync("worker", "gpu-1");
        var ids = await Task.WhenAll(answers.Select(async answer => (await answer.JsonAsync()).GetProperty("id").GetString()!));
        foreach (var accepted in ids)
            await Poll.UntilAsync(async () => (await front.GetAsync($"/v1/edits/{accepted}")) is { StatusCode: HttpStatusCode.OK } found &&
                (await found.JsonAsync()).GetProperty("status").GetString() == "succeeded", $"edit {accepted} never ran", seconds: 60);
    }

    [Fact]
    public async Task A_full_redis_answers_503_with_retry_after_never_500()
    {
        var (_, front) = await ReplicaAsync("api", "api-1", capacity: 100);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(redis.ConnectionString);
        var used = long.Parse((await server.InfoAsync("memory")).SelectMany(group => group).First(pair => pair.Key == "used_memory").Value);
        await server.ConfigSetAsync("maxmemory-policy", "noeviction");
        // Room for a few jobs: concurrent submissions then fill it at every step of theirs (the reservation, the
        // sequence, the job's transaction), as a misjudged maxmemory does.
        await server.ConfigSetAsync("maxmemory", (used + 2_000_000).ToString());
        try
        {
            // Noise does not compress: every job stores about 440 KB of its own (its pair is kept once per relation).
            var random = new Random(3);
            using var pixels = new Image<Rgb24>(384, 384);
            pixels.ProcessPixelRows(rows =>
            {
                for (var y = 0; y < rows.Height; y++) random.NextBytes(MemoryMarshal.AsBytes(rows.GetRowSpan(y)));
            });
            var noise = ImageCodec.Encode(pixels, OutputFormat.Png);
            var answers = await Task.WhenAll(Enumerable.Range(0, 25).Select(i =>
                front.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["seed"] = i.ToString() }, source: noise))));
            Assert.All(answers, answer => Assert.Contains(answer.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.ServiceUnavailable }));
            var refusals = answers.Where(answer => answer.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
            Assert.NotEmpty(refusals);
            foreach (var refusal in refusals)
            {
                Assert.NotNull(refusal.Headers.RetryAfter);
                Assert.Equal("urn:relation-adapter:problem:backend-unavailable", (await refusal.JsonAsync()).GetProperty("type").GetString());
            }
        }
        finally
        {
            await server.ConfigSetAsync("maxmemory", "0");
        }
    }

    [Fact]
    public async Task Relations_belong_to_each_key_across_replicas()
    {
        var keys = new Dictionary<string, string?>
        {
            ["Auth:ApiKeys:0:Name"] = "alice", ["Auth:ApiKeys:0:Key"] = "key-of-alice",
            ["Auth:ApiKeys:1:Name"] = "bob", ["Auth:ApiKeys:1:Key"] = "key-of-bob",
        };
        await ReplicaAsync("worker", "gpu-1", more: keys);
        var (first, _) = await ReplicaAsync("api", "api-1", more: keys);
        var (second, _) = await ReplicaAsync("api", "api-2", more: keys);
        await OwnershipTests.RelationsArePerKeyAsync(OwnershipTests.As(first, "key-of-alice"), OwnershipTests.As(second, "key-of-bob"));
    }

    [Fact]
    public async Task Uploads_in_flight_on_an_api_killed_with_kill_9_hold_no_queue_place()
    {
        var doomed = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["Queue:Backend"] = "redis", ["ConnectionStrings:Redis"] = redis.ConnectionString,
            ["Service:Role"] = "api", ["Service:InstanceName"] = "api-doomed", ["Queue:Capacity"] = "2",
        });
        _replicas.Add(doomed);
        var (_, survivor) = await ReplicaAsync("api", "api-1", capacity: 2);
        var trickles = Enumerable.Range(0, 6).Select(_ => RawHttp.SendAsync(doomed.Address,
            "POST /v1/edits HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000",
            "--b\r\n"u8.ToArray(), timeout: TimeSpan.FromSeconds(30))).ToList();
        await Task.Delay(500); // the uploads are under way (none is ever answered)
        await doomed.KillAsync();

        // Both places of the global capacity are free at once: no lease of a dead replica to wait out.
        foreach (var _ in Enumerable.Range(0, 2))
            Assert.Equal(HttpStatusCode.Accepted, (await survivor.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await survivor.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        _ = trickles;
    }
}
