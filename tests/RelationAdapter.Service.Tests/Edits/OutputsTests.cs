using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Tests.Webhooks;
using RelationAdapter.TestKit;

namespace RelationAdapter.Service.Tests.Edits;

/// <summary>What a job gives back: several outputs per source (<c>n</c>), the caller's <c>metadata</c>, and absolute result links signed to work without a key.</summary>
[Trait("Category", "Service")]
public sealed class OutputsTests
{
    static readonly byte[] Wide = Api.Png(96, 64, 40), Tall = Api.Png(64, 96, 80);

    static MultipartFormDataContent TwoSources(Dictionary<string, string?> fields)
    {
        var form = Api.EditForm(fields, source: Wide);
        Api.AddFile(form, "source_image", Tall);
        return form;
    }

    [Fact]
    public async Task N_outputs_per_source_have_their_own_seeds_in_source_order()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var id = await Api.SubmitAsync(client, TwoSources(new() { ["n"] = "2", ["seed"] = "100" }));
        var job = await Api.WaitForAsync(client, id, "succeeded");
        Assert.Equal(2, job.GetProperty("n").GetInt32());
        Assert.Equal(2 * 2 * 2, job.GetProperty("progress").GetProperty("total").GetInt32()); // 2 steps × 4 images

        var results = job.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], results.Select(result => result.GetProperty("index").GetInt32()));
        Assert.Equal([100L, 101, 102, 103], results.Select(result => result.GetProperty("seed").GetInt64()));
        // Source i's k-th output is result i·n + k: the first two are the wide source's, the last two the tall one's.
        Assert.Equal([(96, 64), (96, 64), (64, 96), (64, 96)], results.Select(result => (result.GetProperty("width").GetInt32(), result.GetProperty("height").GetInt32())));
        var images = await Task.WhenAll(Enumerable.Range(0, 4).Select(index => Api.BytesAsync(client, $"/v1/edits/{id}/results/{index}")));
        Assert.NotEqual(images[0], images[1]);

        // Result 1 is the single edit of the wide source with seed 101.
        var single = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["seed"] = "101" }, source: Wide));
        await Api.WaitForAsync(client, single, "succeeded");
        var alone = await Api.BytesAsync(client, $"/v1/edits/{single}/result");
        Assert.True(BatchTests.MaxPixelDifference(alone, images[1]) <= 1, "result 1 differs from the single edit with its seed");
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/edits/{id}/results/4")).StatusCode);

        var tooMany = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["n"] = "5" }));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.True((await tooMany.JsonAsync()).GetProperty("errors").TryGetProperty("n", out _));
    }

    [Fact]
    public async Task A_waiting_request_can_take_its_images_inline_as_base64()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits")
            { Content = Api.EditForm(new Dictionary<string, string?> { ["n"] = "2", ["seed"] = "7", ["response_format"] = "b64_json" }) };
        request.Headers.Add("Prefer", "wait=60");
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        var edit = body.GetProperty("edit");
        Assert.Equal("succeeded", edit.GetProperty("status").GetString());
        // The headers every 200 of the operation carries (its OpenAPI marks them required).
        Assert.Equal(edit.GetProperty("id").GetString(), response.Headers.GetValues("X-Edit-Id").Single());
        Assert.Equal("7", response.Headers.GetValues("X-Seed").Single());
        var data = body.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([7L, 8], data.Select(image => image.GetProperty("seed").GetInt64()));
        foreach (var image in data)
            Assert.Equal(await Api.BytesAsync(client, $"/v1/edits/{edit.GetProperty("id").GetString()}/results/{image.GetProperty("index").GetInt32()}"),
                Convert.FromBase64String(image.GetProperty("b64_json").GetString()!));

        var refused = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["response_format"] = "url" }));
        Assert.True((await refused.JsonAsync()).GetProperty("errors").TryGetProperty("response_format", out _));
    }

    [Fact]
    public async Task Metadata_is_echoed_in_the_view_the_listing_and_the_webhook()
    {
        await using var receiver = await WebhookReceiver.StartAsync(WebhookDispatcherHost.Secret, 200);
        await using var factory = new ServiceFactory
        {
            Settings = { ["Webhooks:Secret"] = WebhookDispatcherHost.Secret, ["Webhooks:AllowPrivateNetworks"] = "true" },
        };
        var client = await factory.ReadyClientAsync();
        const string metadata = """{"order":"A-17","customer":"acme"}""";
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["metadata"] = metadata, ["webhook"] = receiver.Url.ToString() }));
        var view = await Api.WaitForAsync(client, id, "succeeded");
        Assert.Equal("A-17", view.GetProperty("metadata").GetProperty("order").GetString());
        var listed = (await (await client.GetAsync("/v1/edits")).JsonAsync()).GetProperty("items")[0];
        Assert.Equal("acme", listed.GetProperty("metadata").GetProperty("customer").GetString());
        await Poll.UntilAsync(() => receiver.Received.Count >= 1, "the webhook never arrived");
        var delivered = JsonDocument.Parse(receiver.Received[0].Body).RootElement;
        Assert.Equal("A-17", delivered.GetProperty("metadata").GetProperty("order").GetString());

        foreach (var bad in new[] { "[1,2]", """{"a":1}""", "{" + string.Join(',', Enumerable.Range(0, 17).Select(i => $"\"k{i}\":\"v\"")) + "}" })
        {
            var refused = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["metadata"] = bad }));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.True((await refused.JsonAsync()).GetProperty("errors").TryGetProperty("metadata", out _), bad);
        }
    }

    [Fact]
    public async Task A_signed_result_link_works_without_a_key_until_expires_at_and_not_when_tampered_with()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var factory = new ServiceFactory
        {
            Time = time,
            Settings = { ["Auth:ApiKeys:0:Name"] = "alice", ["Auth:ApiKeys:0:Key"] = "key-of-alice", ["Service:PublicBaseUrl"] = "https://edits.example.com" },
        };
        await factory.ReadyClientAsync();
        var alice = OwnershipTests.As(factory, "key-of-alice");
        var id = await Api.SubmitAsync(alice, Api.EditForm());
        var job = await Api.WaitForAsync(alice, id, "succeeded");
        var link = new Uri(job.GetProperty("results")[0].GetProperty("url").GetString()!);
        Assert.Equal("https://edits.example.com", link.GetLeftPart(UriPartial.Authority));
        Assert.Equal($"/v1/edits/{id}/results/0", link.AbsolutePath);

        var anonymous = factory.CreateClient();
        var local = link.PathAndQuery; // the test server answers on its own host
        var fetched = await anonymous.GetAsync(local);
        Assert.Equal(HttpStatusCode.OK, fetched.StatusCode);
        Assert.Equal(await Api.BytesAsync(alice, $"/v1/edits/{id}/result"), await fetched.Content.ReadAsByteArrayAsync());
        // Without the signature the key is needed; a changed signature, path or expiry is refused.
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(link.AbsolutePath)).StatusCode);
        var signature = link.Query.Split("signature=")[1];
        var expires = link.Query.Split("expires=")[1].Split('&')[0];
        foreach (var tampered in new[]
                 {
                     local.Replace(signature, new string('0', signature.Length)),
                     local.Replace("/results/0", "/results/1"),
                     local.Replace($"expires={expires}", $"expires={long.Parse(expires) + 3600}"),
                     $"/v1/edits/{id}?expires={expires}&signature={signature}",
                 })
        {
            var refused = await anonymous.GetAsync(tampered);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("urn:relation-adapter:problem:invalid-link", (await refused.JsonAsync()).GetProperty("type").GetString());
        }
        // Until expires_at, and not after.
        time.SetUtcNow(job.GetProperty("expires_at").GetDateTimeOffset() + TimeSpan.FromSeconds(1));
        var expired = await anonymous.GetAsync(local);
        Assert.Equal(HttpStatusCode.Forbidden, expired.StatusCode);
        Assert.Contains("expired", (await expired.JsonAsync()).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Links_take_the_forwarded_scheme_and_host_only_from_a_trusted_proxy()
    {
        await using var service = await KestrelService.StartAsync(new() { ["Service:TrustedProxies:0"] = "127.0.0.1" });
        async Task<string> LinkAsync(HttpClient client)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() };
            request.Headers.Add("X-Forwarded-Proto", "https");
            request.Headers.Add("X-Forwarded-Host", "public.example");
            var response = await client.SendAsync(request);
            var id = (await response.JsonAsync()).GetProperty("id").GetString()!;
            return (await Api.WaitForAsync(client, id, "succeeded")).GetProperty("results")[0].GetProperty("url").GetString()!;
        }
        Assert.StartsWith("https://public.example/v1/edits/", await LinkAsync(service.Client));

        await using var untrusting = await KestrelService.StartAsync();
        Assert.StartsWith(untrusting.Address.GetLeftPart(UriPartial.Authority) + "/v1/edits/", await LinkAsync(untrusting.Client));
    }
}
