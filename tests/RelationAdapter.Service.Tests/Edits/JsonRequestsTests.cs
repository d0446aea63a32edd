using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Edits;

/// <summary>
/// JSON bodies on POST /v1/edits and /v1/relations: the form's fields with images as data: URIs or URLs that the
/// service fetches over real HTTP from a local image host (private networks allowed for these tests only), and the
/// same request refused without that allowance.
/// </summary>
[Trait("Category", "Service")]
public sealed class JsonRequestsTests : IAsyncLifetime
{
    WebApplication _images = null!;
    Uri _host = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _images = builder.Build();
        // The extension says nothing: what an image is comes from its bytes.
        _images.MapGet("/before.txt", () => Results.Bytes(Api.Before, "text/plain"));
        _images.MapGet("/after", () => Results.Bytes(Api.After, "application/octet-stream"));
        _images.MapGet("/source.png", () => Results.Bytes(Api.Source, "image/png"));
        _images.MapGet("/moved", () => Results.Redirect("/source.png"));
        _images.MapGet("/loop", () => Results.Redirect("/loop"));
        _images.MapGet("/huge", () => Results.Bytes(new byte[200_000], "image/png"));
        _images.MapGet("/missing", () => Results.NotFound());
        _images.MapGet("/slow", async (CancellationToken aborted) => { await Task.Delay(TimeSpan.FromSeconds(30), aborted); return Results.Bytes(Api.Source); });
        await _images.StartAsync();
        _host = new Uri(_images.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync() => await _images.DisposeAsync();

    string Url(string path) => new Uri(_host, path).ToString();

    static string DataUri(byte[] bytes) => "data:image/png;base64," + Convert.ToBase64String(bytes);

    static Dictionary<string, object?> Edit(object? before, object? after, object source) => new()
    {
        ["prompt_image"] = before, ["reference_image"] = after, ["source_image"] = source,
        ["prompt"] = "make it look like the example", ["steps"] = 2, ["seed"] = 42,
    };

    static async Task<ServiceFactory> ServiceAsync(bool allowPrivate, Dictionary<string, string?>? more = null)
    {
        var factory = new ServiceFactory { Settings = more ?? [] };
        if (allowPrivate) factory.Settings["Inputs:AllowPrivateNetworks"] = "true";
        await factory.ReadyClientAsync();
        return factory;
    }

    [Fact]
    public async Task A_json_edit_with_data_uris_is_the_same_job_as_the_form_and_makes_the_same_image()
    {
        await using var factory = await ServiceAsync(allowPrivate: false);
        var client = factory.CreateClient();
        var json = await client.PostAsJsonAsync("/v1/edits", Edit(DataUri(Api.Before), DataUri(Api.After), DataUri(Api.Source)));
        Assert.Equal(HttpStatusCode.Accepted, json.StatusCode);
        var fromJson = (await json.JsonAsync()).GetProperty("id").GetString()!;
        var fromForm = await Api.SubmitAsync(client, Api.EditForm());
        await Api.WaitForAsync(client, fromJson, "succeeded");
        await Api.WaitForAsync(client, fromForm, "succeeded");
        Assert.Equal(await Api.BytesAsync(client, $"/v1/edits/{fromForm}/result"), await Api.BytesAsync(client, $"/v1/edits/{fromJson}/result"));
    }

    [Fact]
    public async Task Image_urls_are_fetched_sniffed_by_content_and_redirects_followed_and_several_sources_come_as_an_array()
    {
        await using var factory = await ServiceAsync(allowPrivate: true);
        var client = factory.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/edits", Edit(Url("/before.txt"), Url("/after"), new[] { Url("/source.png"), Url("/moved") }));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var job = await Api.WaitForAsync(client, (await response.JsonAsync()).GetProperty("id").GetString()!, "succeeded", "failed");
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        Assert.Equal(2, job.GetProperty("source_count").GetInt32());

        var otherAfter = Api.Png(64, 48, 7);
        var relation = await client.PostAsJsonAsync("/v1/relations", new { prompt_image = Url("/before.txt"), reference_image = DataUri(otherAfter) });
        Assert.Equal(HttpStatusCode.Created, relation.StatusCode);
        // The same pair as a form: the same content id, already made.
        var form = await client.PostAsync("/v1/relations", Api.PairForm(Api.Before, otherAfter));
        Assert.Equal(HttpStatusCode.OK, form.StatusCode);
        Assert.Equal((await relation.JsonAsync()).GetProperty("id").GetString(), (await form.JsonAsync()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Every_image_that_cannot_be_had_is_a_problem_naming_its_field()
    {
        await using var factory = await ServiceAsync(allowPrivate: true, new() { ["Inputs:FetchTimeout"] = "00:00:02", ["Limits:MaxFileBytes"] = "100000" });
        var client = factory.CreateClient();
        async Task ExpectAsync(object source, HttpStatusCode status, string type, string words)
        {
            var response = await client.PostAsJsonAsync("/v1/edits", Edit(DataUri(Api.Before), DataUri(Api.After), source));
            Assert.Equal(status, response.StatusCode);
            var problem = await response.JsonAsync();
            Assert.Equal("urn:relation-adapter:problem:" + type, problem.GetProperty("type").GetString());
            Assert.Equal("source_image", problem.GetProperty("field").GetString());
            Assert.Contains(words, problem.GetProperty("detail").GetString());
        }
        await ExpectAsync(Url("/missing"), HttpStatusCode.BadRequest, "invalid-image", "404");
        await ExpectAsync(Url("/loop"), HttpStatusCode.BadRequest, "invalid-image", "redirects");
        await ExpectAsync(Url("/slow"), HttpStatusCode.BadRequest, "invalid-image", "Inputs:FetchTimeout");
        await ExpectAsync(Url("/huge"), HttpStatusCode.RequestEntityTooLarge, "request-too-large", "Limits:MaxFileBytes");
        await ExpectAsync(DataUri(new byte[150_000]), HttpStatusCode.RequestEntityTooLarge, "request-too-large", "Limits:MaxFileBytes");
        await ExpectAsync("data:image/png,notbase64", HttpStatusCode.BadRequest, "invalid-image", "base64");
        await ExpectAsync("ftp://example.com/a.png", HttpStatusCode.BadRequest, "invalid-image", "http or https");
        // Fetched, but not an image: the same refusal as an uploaded file that is not one.
        await ExpectAsync(DataUri("hello"u8.ToArray()), HttpStatusCode.BadRequest, "invalid-image", "not recognised");
    }

    [Fact]
    public async Task Without_the_allowance_urls_of_this_machine_and_private_networks_are_refused()
    {
        await using var factory = await ServiceAsync(allowPrivate: false);
        var client = factory.CreateClient();
        foreach (var url in new[] { Url("/source.png"), $"http://localhost:{_host.Port}/source.png", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/a.png" })
        {
            var response = await client.PostAsJsonAsync("/v1/edits", Edit(DataUri(Api.Before), DataUri(Api.After), url));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.JsonAsync();
            Assert.Equal("source_image", problem.GetProperty("field").GetString());
            Assert.Contains("The image URL", problem.GetProperty("detail").GetString());
        }
    }

    [Fact]
    public async Task A_malformed_or_mistyped_json_body_is_a_clear_400()
    {
        await using var factory = await ServiceAsync(allowPrivate: false);
        var client = factory.CreateClient();
        var malformed = await client.PostAsync("/v1/edits", new StringContent("{\"prompt\": ", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:malformed-request", (await malformed.JsonAsync()).GetProperty("type").GetString());

        var mistyped = await client.PostAsJsonAsync("/v1/edits", new { source_image = 5, prompt = new { text = "x" }, steps = 500 });
        Assert.Equal(HttpStatusCode.BadRequest, mistyped.StatusCode);
        var errors = (await mistyped.JsonAsync()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("source_image", out _));
        Assert.True(errors.TryGetProperty("prompt", out _));

        var repeated = await client.PostAsync("/v1/edits", new StringContent("{\"prompt\": \"a\", \"prompt\": \"b\", \"source_image\": []}",
            System.Text.Encoding.UTF8, "application/json"));
        errors = (await repeated.JsonAsync()).GetProperty("errors");
        Assert.Equal("is given twice.", errors.GetProperty("prompt")[0].GetString());
        Assert.Equal("needs at least one image URL.", errors.GetProperty("source_image")[0].GetString());

        // Well-formed: the form's own validation, field by field.
        var invalid = await client.PostAsJsonAsync("/v1/edits", new Dictionary<string, object?>(Edit(DataUri(Api.Before), DataUri(Api.After), DataUri(Api.Source))) { ["steps"] = 500 });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.True((await invalid.JsonAsync()).GetProperty("errors").TryGetProperty("steps", out _));
    }
}
