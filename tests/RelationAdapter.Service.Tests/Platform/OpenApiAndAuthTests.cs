using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

[Trait("Category", "Service")]
public class OpenApiAndAuthTests
{
    [Fact]
    public async Task OpenApi_document_lists_every_endpoint_with_the_multipart_schema_and_problem_responses()
    {
        await using var factory = new ServiceFactory();
        var client = factory.CreateClient();
        var document = await (await client.GetAsync("/swagger/v1/swagger.json")).JsonAsync();
        var paths = document.GetProperty("paths");
        var expected = new Dictionary<string, string[]>
        {
            ["/v1/edits"] = ["post"],
            ["/v1/edits/{id}"] = ["get", "delete"],
            ["/v1/edits/{id}/result"] = ["get"],
            ["/v1/edits/{id}/events"] = ["get"],
            ["/v1/relations"] = ["post"],
            ["/v1/relations/{id}"] = ["get"],
            ["/healthz"] = ["get"],
            ["/readyz"] = ["get"],
        };
        foreach (var (path, methods) in expected)
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"missing {path}");
            foreach (var method in methods) Assert.True(item.TryGetProperty(method, out _), $"missing {method} {path}");
        }

        var post = paths.GetProperty("/v1/edits").GetProperty("post");
        var multipart = post.GetProperty("requestBody").GetProperty("content").GetProperty("multipart/form-data").GetProperty("schema");
        var properties = Resolve(document, multipart).GetProperty("properties");
        foreach (var field in new[] { "source_image", "prompt_image", "reference_image", "relation_id", "prompt", "steps", "guidance", "adapter_scale", "seed", "max_side", "output_format" })
            Assert.True(properties.TryGetProperty(field, out _), $"multipart schema lacks {field}");
        var sources = Resolve(document, properties.GetProperty("source_image"));
        Assert.Equal("array", sources.GetProperty("type").GetString()); // a batch: the part may repeat
        Assert.Equal("binary", sources.GetProperty("items").GetProperty("format").GetString());
        foreach (var status in new[] { "202", "200", "400", "413", "503" })
            Assert.True(post.GetProperty("responses").TryGetProperty(status, out _), $"POST /v1/edits lacks response {status}");
        var description = document.GetProperty("info").GetProperty("description").GetString()!;
        foreach (var type in Problems.AllTypes) Assert.Contains(type, description);
    }

    static JsonElement Resolve(JsonElement document, JsonElement schema)
    {
        if (!schema.TryGetProperty("$ref", out var reference)) return schema;
        var name = reference.GetString()!.Split('/')[^1];
        return document.GetProperty("components").GetProperty("schemas").GetProperty(name);
    }

    [Fact]
    public async Task Api_keys_when_configured_guard_v1_but_not_the_probes()
    {
        await using var factory = new ServiceFactory { Settings = { ["Auth:ApiKeys:0"] = "s3cret" } };
        var client = await factory.ReadyClientAsync();

        var anonymous = await client.GetAsync("/v1/relations/rel_x");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:unauthorized", (await anonymous.JsonAsync()).GetProperty("type").GetString());

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/v1/relations/rel_x")).StatusCode);

        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret");
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v1/relations/rel_x")).StatusCode);

        client.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/metrics")).StatusCode);
    }
}
