using System.Net;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Contract;

/// <summary>
/// What code generators need of the document beyond a valid contract: a server, an enum for each closed set that the
/// service holds to, every problem member the service sends declared, image parts whose encoding generators read, and the
/// event stream's events.
/// </summary>
[Trait("Category", "Service")]
public class GeneratorDocumentTests
{
    static readonly JsonElement Document = JsonDocument.Parse(File.ReadAllText(Repository.File("openapi", "relation-adapter.v1.json"))).RootElement;

    static JsonElement Schema(string name) => Document.GetProperty("components").GetProperty("schemas").GetProperty(name);

    static JsonElement Operation(string path, string method) => Document.GetProperty("paths").GetProperty(path).GetProperty(method);

    static string[] Strings(JsonElement array) => array.EnumerateArray().Select(item => item.GetString()!).ToArray();

    static string Ref(JsonElement schema) => schema.GetProperty("$ref").GetString()!.Split('/')[^1];

    [Fact]
    public void The_document_names_a_server_generated_clients_default_to()
    {
        var server = Assert.Single(Document.GetProperty("servers").EnumerateArray());
        Assert.Equal(OpenApiContract.DefaultServer, server.GetProperty("url").GetString());
    }

    [Fact]
    public async Task The_listings_status_is_the_job_status_enum_and_the_service_takes_exactly_its_values()
    {
        var parameter = Operation("/v1/edits", "get").GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "status");
        Assert.Equal("JobStatus", Ref(parameter.GetProperty("schema")));
        var statuses = Strings(Schema("JobStatus").GetProperty("enum"));

        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var done = await Api.SubmitAsync(client, Api.EditForm());
        await Api.WaitForAsync(client, done, "succeeded");
        foreach (var status in statuses)
        {
            var page = await (await client.GetAsync($"/v1/edits?status={status}")).JsonAsync();
            Assert.All(page.GetProperty("items").EnumerateArray(), item => Assert.Equal(status, item.GetProperty("status").GetString()));
            Assert.Equal(status == "succeeded", page.GetProperty("items").EnumerateArray().Any(item => item.GetProperty("id").GetString() == done));
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/v1/edits?status=paused")).StatusCode);
    }

    [Fact]
    public void Webhook_event_names_are_one_enum_for_the_form_the_json_body_and_the_job_view()
    {
        Assert.Equal(WebhookEvents.All, Strings(Schema("WebhookEvent").GetProperty("enum")));
        foreach (var (schema, property) in new[] { ("EditForm", "webhook_events_filter"), ("EditJson", "webhook_events_filter"), ("WebhookView", "events_filter") })
            Assert.Equal("WebhookEvent", Ref(Schema(schema).GetProperty("properties").GetProperty(property).GetProperty("items")));
    }

    [Fact]
    public void Each_image_part_of_a_multipart_body_has_an_encoding_and_both_bodies_are_described()
    {
        foreach (var path in new[] { "/v1/edits", "/v1/relations" })
        {
            var content = Operation(path, "post").GetProperty("requestBody").GetProperty("content");
            Assert.True(content.TryGetProperty("application/json", out _), $"{path} has no JSON body");
            var multipart = content.GetProperty("multipart/form-data");
            var form = Schema(Ref(multipart.GetProperty("schema")));
            var images = form.GetProperty("properties").EnumerateObject().Where(property => JsonForms.ImageFields.Contains(property.Name)).Select(p => p.Name).ToList();
            Assert.NotEmpty(images);
            Assert.Equal(images.Order(), multipart.GetProperty("encoding").EnumerateObject().Select(e => e.Name).Order());
            Assert.All(multipart.GetProperty("encoding").EnumerateObject(), e => Assert.Equal("image/*", e.Value.GetProperty("contentType").GetString()));
        }
    }

    [Fact]
    public async Task Every_member_of_the_problems_the_service_sends_is_declared()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        var corrupt = Api.EditForm(source: [0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
        var answers = new[]
        {
            await client.GetAsync("/v1/edits/ed_missing"),                       // edit-not-found
            await client.GetAsync($"/v1/edits/{running}/result"),                // result-not-available, with job_status
            await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["steps"] = "0" })), // validation
            await client.PostAsync("/v1/edits", corrupt),                         // invalid-image, with field
        };
        await client.DeleteAsync($"/v1/edits/{running}");

        var declared = new HashSet<string>(Schema("ProblemDetails").GetProperty("properties").EnumerateObject().Select(p => p.Name));
        Assert.Equal(declared, Schema("HttpValidationProblemDetails").GetProperty("properties").EnumerateObject().Select(p => p.Name).ToHashSet());
        var seen = new HashSet<string>();
        foreach (var answer in answers)
        {
            Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
            foreach (var member in (await answer.JsonAsync()).EnumerateObject())
            {
                Assert.True(declared.Contains(member.Name), $"{(int)answer.StatusCode} sends '{member.Name}', which ProblemDetails does not declare");
                seen.Add(member.Name);
            }
        }
        Assert.Superset(new HashSet<string> { "type", "title", "status", "detail", "trace_id", "job_status", "errors", "field" }, seen);
        Assert.Equal("JobStatus", Ref(Schema("ProblemDetails").GetProperty("properties").GetProperty("job_status").GetProperty("allOf")[0]));
        var typeDescription = Schema("ProblemDetails").GetProperty("properties").GetProperty("type").GetProperty("description").GetString()!;
        Assert.All(Problems.AllTypes, type => Assert.Contains(type, typeDescription));
    }

    [Fact]
    public async Task The_event_stream_is_described_event_by_event_and_a_streams_events_fit()
    {
        var stream = Operation("/v1/edits/{id}/events", "get").GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("text/event-stream");
        Assert.Equal("EditEvent", Ref(stream.GetProperty("schema")));
        var names = Strings(Schema("EditChangeEvent").GetProperty("properties").GetProperty("event").GetProperty("enum"))
            .Concat(Strings(Schema("EditReconnectEvent").GetProperty("properties").GetProperty("event").GetProperty("enum")));
        Assert.Equal(["status", "queue_position", "started", "progress", "succeeded", "failed", "canceled", "reconnect"], names);

        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var done = await Api.SubmitAsync(client, Api.EditForm());
        var events = Sse.Parse(await client.GetStringAsync($"/v1/edits/{done}/events"));
        var checker = new OpenApiSchemaChecker(Document);
        foreach (var sse in events)
        {
            var asDocumented = JsonSerializer.SerializeToElement(new { @event = sse.Kind, id = sse.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), data = sse.Data });
            Assert.Empty(checker.Check(asDocumented, stream.GetProperty("schema")));
        }
        Assert.Equal("status", events[0].Kind);
        Assert.Equal("succeeded", events[^1].Kind);
    }
}
