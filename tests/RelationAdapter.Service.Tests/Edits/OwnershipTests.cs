using System.Net;
using System.Net.Http.Headers;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;

namespace RelationAdapter.Service.Tests.Edits;

/// <summary>With named API keys, a job belongs to the key that created it; the key's name, never the key, shows up elsewhere.</summary>
[Trait("Category", "Service")]
public class OwnershipTests
{
    public static HttpClient As(ServiceFactory factory, string key)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    [Fact]
    public async Task Another_key_gets_404_for_a_job_and_does_not_list_it_while_its_owner_does()
    {
        await using var factory = new ServiceFactory
        {
            Settings =
            {
                ["Auth:ApiKeys:0:Name"] = "alice", ["Auth:ApiKeys:0:Key"] = "key-of-alice",
                ["Auth:ApiKeys:1:Name"] = "bob", ["Auth:ApiKeys:1:Key"] = "key-of-bob",
            },
        };
        await factory.ReadyClientAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().GetAsync("/v1/edits")).StatusCode);
        var alice = As(factory, "key-of-alice");
        var bob = As(factory, "key-of-bob");
        var id = await Api.SubmitAsync(alice, Api.EditForm());
        var done = await Api.WaitForAsync(alice, id, "succeeded");

        foreach (var (method, path) in new[] { (HttpMethod.Get, $"/v1/edits/{id}"), (HttpMethod.Get, $"/v1/edits/{id}/result"),
                     (HttpMethod.Get, $"/v1/edits/{id}/events"), (HttpMethod.Delete, $"/v1/edits/{id}") })
        {
            var response = await bob.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("urn:relation-adapter:problem:edit-not-found", (await response.JsonAsync()).GetProperty("type").GetString());
        }
        Assert.Equal(HttpStatusCode.OK, (await alice.GetAsync($"/v1/edits/{id}/result")).StatusCode);
        Assert.Equal(0, (await (await bob.GetAsync("/v1/edits")).JsonAsync()).GetProperty("items").GetArrayLength());
        Assert.Equal(id, (await (await alice.GetAsync("/v1/edits")).JsonAsync()).GetProperty("items")[0].GetProperty("id").GetString());

        // The key's name, not the key, labels the metrics (the job is counted right after its end is stored).
        await Poll.UntilAsync(async () => await Api.MetricAsync(alice, "ra_jobs_total", "api_key=\"alice\"") == 1, "alice's job was not counted under her key's name");
        Assert.DoesNotContain("key-of-alice", await alice.GetStringAsync("/metrics"));
        Assert.True(done.GetProperty("expires_at").GetDateTimeOffset() > done.GetProperty("finished_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Relations_belong_to_each_key_that_uploaded_the_pair_and_no_answer_tells_another_key_of_them()
    {
        await using var factory = new ServiceFactory
        {
            Settings =
            {
                ["Auth:ApiKeys:0:Name"] = "alice", ["Auth:ApiKeys:0:Key"] = "key-of-alice",
                ["Auth:ApiKeys:1:Name"] = "bob", ["Auth:ApiKeys:1:Key"] = "key-of-bob",
            },
        };
        await factory.ReadyClientAsync();
        await RelationsArePerKeyAsync(As(factory, "key-of-alice"), As(factory, "key-of-bob"));
    }

    /// <summary>Two keys and one pair (shared with the Redis backend's test).</summary>
    internal static async Task RelationsArePerKeyAsync(HttpClient alice, HttpClient bob)
    {
        var created = await alice.PostAsync("/v1/relations", Api.PairForm());
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/v1/relations", Api.PairForm())).StatusCode);

        var read = await bob.GetAsync($"/v1/relations/{id}");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:relation-not-found", (await read.JsonAsync()).GetProperty("type").GetString());
        var byId = await bob.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = id }, source: Api.Source, withPair: false));
        Assert.Equal(HttpStatusCode.NotFound, byId.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:relation-not-found", (await byId.JsonAsync()).GetProperty("type").GetString());

        // Bob's own first upload of the same pair is his creation: 201, the same content id, then his to use.
        var his = await bob.PostAsync("/v1/relations", Api.PairForm());
        Assert.Equal(HttpStatusCode.Created, his.StatusCode);
        Assert.Equal(id, (await his.JsonAsync()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await bob.GetAsync($"/v1/relations/{id}")).StatusCode);
        var edit = await Api.SubmitAsync(bob, Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = id }, source: Api.Source, withPair: false));
        Assert.Equal("succeeded", (await Api.WaitForAsync(bob, edit, "succeeded", "failed")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Keys_in_the_older_plain_form_still_work()
    {
        await using var factory = new ServiceFactory { Settings = { ["Auth:ApiKeys:0"] = "plain-key" } };
        await factory.ReadyClientAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().GetAsync("/v1/edits")).StatusCode);
        var client = As(factory, "plain-key");
        var id = await Api.SubmitAsync(client, Api.EditForm());
        Assert.Equal("succeeded", (await Api.WaitForAsync(client, id, "succeeded")).GetProperty("status").GetString());
        await Poll.UntilAsync(async () => await Api.MetricAsync(client, "ra_jobs_total", "api_key=\"key-1\"") == 1, "the job was not counted under the key's generated name");
    }

    [Fact]
    public async Task An_unfinished_job_has_no_expiry_yet()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var busy = await Api.BusyWorkerAsync(client);
        var view = await (await client.GetAsync($"/v1/edits/{busy}")).JsonAsync();
        Assert.Equal(System.Text.Json.JsonValueKind.Null, view.GetProperty("expires_at").ValueKind);
        await client.DeleteAsync($"/v1/edits/{busy}");
    }
}
