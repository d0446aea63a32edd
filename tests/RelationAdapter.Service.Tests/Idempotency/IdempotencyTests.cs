using System.Net;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests.Idempotency;

/// <summary>Idempotency-Key on POST /v1/edits and /v1/relations: a retried request makes nothing new.</summary>
[Trait("Category", "Service")]
public class IdempotencyTests
{
    static HttpRequestMessage Post(string path, HttpContent content, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    static async Task<int> ListedCount(HttpClient client) =>
        (await (await client.GetAsync("/v1/edits?limit=100")).JsonAsync()).GetProperty("items").GetArrayLength();

    [Fact]
    public async Task A_retried_edit_with_the_same_key_answers_the_original_job_and_another_request_with_it_is_refused()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var first = await client.SendAsync(Post("/v1/edits", Api.EditForm(), "order-17"));
        var retry = await client.SendAsync(Post("/v1/edits", Api.EditForm(), "order-17"));
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal((await first.JsonAsync()).GetProperty("id").GetString(), (await retry.JsonAsync()).GetProperty("id").GetString());
        Assert.Equal(1, await ListedCount(client));

        var other = await client.SendAsync(Post("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["seed"] = "7" }), "order-17"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:idempotency-key-reused", (await other.JsonAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Concurrent_duplicates_make_one_job()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => client.SendAsync(Post("/v1/edits", Api.EditForm(), "burst"))));
        Assert.All(responses, response => Assert.Equal(HttpStatusCode.Accepted, response.StatusCode));
        Assert.Single(responses.Select(response => response.JsonAsync().Result.GetProperty("id").GetString()).Distinct());
        Assert.Equal(1, await ListedCount(client));
    }

    [Fact]
    public async Task A_request_that_made_nothing_leaves_its_key_free()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var invalid = await client.SendAsync(Post("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["steps"] = "0" }), "fix-and-retry"));
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var corrected = await client.SendAsync(Post("/v1/edits", Api.EditForm(), "fix-and-retry"));
        Assert.Equal(HttpStatusCode.Accepted, corrected.StatusCode);
    }

    [Fact]
    public async Task A_retried_relation_answers_the_original_status_and_relation()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var first = await client.SendAsync(Post("/v1/relations", Api.PairForm(), "pair-1"));
        var retry = await client.SendAsync(Post("/v1/relations", Api.PairForm(), "pair-1"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal((await first.JsonAsync()).GetProperty("id").GetString(), (await retry.JsonAsync()).GetProperty("id").GetString());
        // Without the key the pair is simply known already.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/relations", Api.PairForm())).StatusCode);
    }

    [Fact]
    public async Task Keys_belong_to_their_api_key()
    {
        await using var factory = new ServiceFactory
        {
            Settings = { ["Auth:ApiKeys:0:Name"] = "a", ["Auth:ApiKeys:0:Key"] = "ka", ["Auth:ApiKeys:1:Name"] = "b", ["Auth:ApiKeys:1:Key"] = "kb" },
        };
        await factory.ReadyClientAsync();
        async Task<string> Submit(string apiKey)
        {
            var request = Post("/v1/edits", Api.EditForm(), "shared-key");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
            var response = await factory.CreateClient().SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (await response.JsonAsync()).GetProperty("id").GetString()!;
        }
        Assert.NotEqual(await Submit("ka"), await Submit("kb"));
    }

    [Fact]
    public async Task A_retry_answers_its_job_even_when_the_queue_is_full()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:Capacity"] = "1" } };
        var client = await factory.ReadyClientAsync();
        var busy = await Api.BusyWorkerAsync(client);
        var first = await client.SendAsync(Post("/v1/edits", Api.EditForm(), "while-full"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/v1/edits", Api.EditForm())).StatusCode);

        var retry = await client.SendAsync(Post("/v1/edits", Api.EditForm(), "while-full"));
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal((await first.JsonAsync()).GetProperty("id").GetString(), (await retry.JsonAsync()).GetProperty("id").GetString());
        await client.DeleteAsync($"/v1/edits/{busy}");
    }

    [Fact]
    public async Task A_waiting_client_with_a_key_that_leaves_keeps_its_job_for_the_retry()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var busy = await Api.BusyWorkerAsync(client);
        var request = Post("/v1/edits", Api.EditForm(), "come-back");
        request.Headers.Add("Prefer", "wait=60");
        using (var leave = new CancellationTokenSource())
        {
            var waiting = client.SendAsync(request, leave.Token);
            await Poll.UntilAsync(async () => await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.QueueDepth) == 1, "the waiting client's job is not queued");
            leave.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        }

        var retry = await client.SendAsync(Post("/v1/edits", Api.EditForm(), "come-back"));
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal("queued", (await retry.JsonAsync()).GetProperty("status").GetString());
        Assert.Equal(1, await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.QueueDepth)); // the same job, not a second one
        await client.DeleteAsync($"/v1/edits/{busy}");
    }
}
