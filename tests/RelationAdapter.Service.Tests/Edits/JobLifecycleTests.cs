using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using System.Text.Json;
using System.Net;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Edits;

[Trait("Category", "Service")]
public class JobLifecycleTests
{
    [Fact]
    public async Task Unknown_ids_are_404_problems()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        foreach (var (method, path) in new[]
                 {
                     (HttpMethod.Get, "/v1/edits/ed_missing"), (HttpMethod.Get, "/v1/edits/ed_missing/result"),
                     (HttpMethod.Get, "/v1/edits/ed_missing/events"), (HttpMethod.Delete, "/v1/edits/ed_missing"),
                 })
        {
            var response = await client.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("urn:relation-adapter:problem:edit-not-found", (await response.JsonAsync()).GetProperty("type").GetString());
        }
        var relation = await client.GetAsync("/v1/relations/rel_missing");
        Assert.Equal(HttpStatusCode.NotFound, relation.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:relation-not-found", (await relation.JsonAsync()).GetProperty("type").GetString());

        var byId = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = "rel_missing" }, source: Api.Source, withPair: false));
        Assert.Equal(HttpStatusCode.NotFound, byId.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:relation-not-found", (await byId.JsonAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Canceling_a_queued_job_removes_it_and_canceling_a_running_job_stops_it_between_steps()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var running = await Api.SubmitAsync(client, Api.SlowEdit());
        var queued = await Api.SubmitAsync(client, Api.EditForm());
        await Api.WaitForAsync(client, running, "running");

        var queuedView = await (await client.GetAsync($"/v1/edits/{queued}")).JsonAsync();
        Assert.Equal(0, queuedView.GetProperty("queue_position").GetInt32());
        var cancelQueued = await client.DeleteAsync($"/v1/edits/{queued}");
        Assert.Equal(HttpStatusCode.Accepted, cancelQueued.StatusCode);
        Assert.Equal("canceled", (await cancelQueued.JsonAsync()).GetProperty("status").GetString());

        var result = await client.GetAsync($"/v1/edits/{queued}/result");
        Assert.Equal(HttpStatusCode.Conflict, result.StatusCode);
        // One "status" (the HTTP one, as RFC 9457 says); the job's state under its own name.
        var problem = await result.JsonAsync();
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        Assert.Equal("canceled", problem.GetProperty("job_status").GetString());
        Assert.Single(problem.EnumerateObject(), property => property.Name == "status");

        var cancelRunning = await client.DeleteAsync($"/v1/edits/{running}");
        Assert.Equal(HttpStatusCode.Accepted, cancelRunning.StatusCode);
        var stopped = await Api.WaitForAsync(client, running, "canceled", "succeeded", "failed");
        Assert.Equal("canceled", stopped.GetProperty("status").GetString());
        Assert.True(stopped.GetProperty("progress").GetProperty("step").GetInt32() < 50);

        var again = await client.DeleteAsync($"/v1/edits/{running}");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:already-finished", (await again.JsonAsync()).GetProperty("type").GetString());

        var after = await Api.SubmitAsync(client, Api.EditForm());
        Assert.Equal("succeeded", (await Api.WaitForAsync(client, after, "succeeded", "failed")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_full_queue_answers_503_with_retry_after_at_once()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:Capacity"] = "1", ["Queue:RetryAfterSeconds"] = "7" } };
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        var waiting = await Api.SubmitAsync(client, Api.EditForm());

        var started = DateTime.UtcNow;
        var rejected = await client.PostAsync("/v1/edits", Api.EditForm());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "a full queue must not make the caller wait");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
        Assert.Equal("7", rejected.Headers.RetryAfter!.Delta!.Value.TotalSeconds.ToString());
        Assert.Equal("urn:relation-adapter:problem:queue-full", (await rejected.JsonAsync()).GetProperty("type").GetString());

        // Canceling the waiting job gives its place back.
        await client.DeleteAsync($"/v1/edits/{waiting}");
        var accepted = await client.PostAsync("/v1/edits", Api.EditForm());
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await client.DeleteAsync($"/v1/edits/{running}");
    }

    [Fact]
    public async Task Fifty_concurrent_submissions_all_finish()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:Capacity"] = "64" } };
        var client = await factory.ReadyClientAsync();
        var submissions = Enumerable.Range(0, 50).Select(i => Task.Run(() =>
            Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["seed"] = i.ToString(), ["steps"] = "1" }, source: Api.Png(48, 32)))));
        var ids = await Task.WhenAll(submissions);
        Assert.Equal(50, ids.Distinct().Count());
        foreach (var id in ids)
            Assert.Equal("succeeded", (await Api.WaitForAsync(client, id, "succeeded", "failed", "canceled")).GetProperty("status").GetString());
        Assert.Equal(0, await Api.MetricAsync(client, "ra_queue_depth"));
        // A job is counted right after its end is stored.
        await Poll.UntilAsync(async () => await Api.MetricAsync(client, "ra_jobs_total") >= 50, "fewer than 50 jobs were counted", seconds: 10);
    }

    [Fact]
    public async Task Finished_jobs_beyond_the_stored_count_are_evicted_oldest_first()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:MaxStoredResults"] = "1" } };
        var client = await factory.ReadyClientAsync();
        var first = await Api.SubmitAsync(client, Api.EditForm());
        await Api.WaitForAsync(client, first, "succeeded");
        var second = await Api.SubmitAsync(client, Api.EditForm());
        await Api.WaitForAsync(client, second, "succeeded");

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/edits/{first}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/edits/{second}/result")).StatusCode);
    }

    [Fact]
    public async Task Finished_jobs_older_than_the_retention_are_evicted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var factory = new ServiceFactory { Time = time };
        var client = await factory.ReadyClientAsync();
        var retention = factory.Services.GetRequiredService<IOptions<QueueOptions>>().Value.ResultRetention;
        var id = await Api.SubmitAsync(client, Api.EditForm());
        await Api.WaitForAsync(client, id, "succeeded");

        time.Advance(retention - TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/edits/{id}")).StatusCode);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/edits/{id}")).StatusCode);
    }

    [Theory]
    [InlineData("Model:Preset", "flux1-dev", "Model:FluxDirectory is required")]
    [InlineData("Queue:Capacity", "0", "Capacity")]
    [InlineData("Model:Device", "tpu", "Device")]
    [InlineData("Limits:DefaultMaxSide", "2048", "DefaultMaxSide")]
    [InlineData("Limits:MaxFileBytes", "999999999", "MaxFileBytes")]
    public async Task Invalid_configuration_stops_the_start_naming_the_key(string key, string value, string named)
    {
        // The service's own options registration on a bare host: a failed start inside WebApplicationFactory
        // sometimes surfaces as its disposed container instead of the validation error.
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [key] = value });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddServiceOptions();
        await using var app = builder.Build();
        var error = await Assert.ThrowsAnyAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());
        Assert.Contains(named, string.Join(" ", error.Failures));
    }

    [Fact]
    public async Task Traces_are_exported_to_the_otlp_endpoint_the_sdk_variables_name()
    {
        // A real OTLP/HTTP receiver: the SDK posts protobuf batches to {endpoint}/v1/traces.
        var port = LoopbackPort.Free();
        using var receiver = new HttpListener { Prefixes = { $"http://127.0.0.1:{port}/" } };
        receiver.Start();
        var received = receiver.GetContextAsync();
        await using var factory = new ServiceFactory
        {
            Settings =
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}", ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "100", ["OTEL_METRIC_EXPORT_INTERVAL"] = "100",
            },
        };
        var client = await factory.ReadyClientAsync();
        var id = await Api.SubmitAsync(client, Api.EditForm());
        Assert.Equal("succeeded", (await Api.WaitForAsync(client, id, "succeeded", "failed")).GetProperty("status").GetString());

        var first = await received.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("POST", first.Request.HttpMethod);
        Assert.StartsWith("/v1/", first.Request.Url!.AbsolutePath);
        Assert.Equal("application/x-protobuf", first.Request.ContentType);
        first.Response.StatusCode = 200;
        first.Response.Close();
    }

    [Fact]
    public async Task Health_and_readiness_report_the_model()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var live = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var ready = await (await client.GetAsync("/readyz")).JsonAsync();
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.True(ready.GetProperty("placeholder").GetBoolean());
        Assert.Contains("meaningless", ready.GetProperty("warning").GetString());
    }

    [Fact]
    public async Task Edits_are_listed_newest_first_a_page_at_a_time_and_by_status()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add(await Api.SubmitAsync(client, Api.EditForm()));
        foreach (var id in ids) await Api.WaitForAsync(client, id, "succeeded");
        await client.DeleteAsync($"/v1/edits/{ids[4]}"); // finished: stays succeeded

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await (await client.GetAsync("/v1/edits?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"))).JsonAsync();
            var items = page.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("id").GetString()!).ToList();
            Assert.InRange(items.Count, 1, 2);
            seen.AddRange(items);
            cursor = page.GetProperty("next_cursor").GetString();
        } while (cursor is not null);
        Assert.Equal(Enumerable.Reverse(ids), seen);

        var succeeded = await (await client.GetAsync("/v1/edits?status=succeeded&limit=100")).JsonAsync();
        Assert.Equal(5, succeeded.GetProperty("items").GetArrayLength());
        var queued = await (await client.GetAsync("/v1/edits?status=queued")).JsonAsync();
        Assert.Equal(0, queued.GetProperty("items").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, queued.GetProperty("next_cursor").ValueKind);

        foreach (var bad in new[] { "limit=0", "limit=101", "limit=abc", "limit=1&limit=2", "status=done", "status=queued&status=running", "cursor=xyz" })
        {
            var response = await client.GetAsync($"/v1/edits?{bad}");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.JsonAsync();
            Assert.Equal("urn:relation-adapter:problem:validation", problem.GetProperty("type").GetString());
            Assert.True(problem.GetProperty("errors").TryGetProperty(bad.Split('=')[0], out _), $"{bad}: {problem}");
        }
    }

    [Fact]
    public async Task A_started_job_whose_waiting_client_left_runs_on_and_is_listed()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.SlowEdit() };
        request.Headers.Add("Prefer", "wait=60");
        using var leave = new CancellationTokenSource();
        var waiting = client.SendAsync(request, leave.Token);
        JsonElement running = default;
        await Poll.UntilAsync(async () => (running = await (await client.GetAsync("/v1/edits?status=running")).JsonAsync()).GetProperty("items").GetArrayLength() > 0,
            "the slow edit never ran");
        leave.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        var job = running.GetProperty("items")[0];
        var id = job.GetProperty("id").GetString()!;
        // It runs on: two more steps (or its end) after the client left, rather than a cancel.
        var stepWhenLeft = job.GetProperty("progress").GetProperty("step").GetInt32();
        JsonElement view = default;
        await Poll.UntilAsync(async () => (view = await (await client.GetAsync($"/v1/edits/{id}")).JsonAsync()).GetProperty("status").GetString() != "running"
                                         || view.GetProperty("progress").GetProperty("step").GetInt32() >= stepWhenLeft + 2,
            "the edit neither advanced nor ended after its client left");
        Assert.Contains(view.GetProperty("status").GetString(), new[] { "running", "succeeded" });
        await client.DeleteAsync($"/v1/edits/{id}");
    }
}
