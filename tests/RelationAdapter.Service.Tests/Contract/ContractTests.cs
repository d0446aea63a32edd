using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.OpenApi;
using RelationAdapter.Service.Tests.Support;
using Xunit.Abstractions;
using RelationAdapter.TestKit;

namespace RelationAdapter.Service.Tests.Contract;

/// <summary>The committed OpenAPI document is valid and describes exactly what the service sends.</summary>
[Trait("Category", "Service")]
public class ContractTests(ITestOutputHelper output)
{
    static readonly string DocumentPath = Repository.File("openapi", "relation-adapter.v1.json");

    /// <summary>Headers the service sets on purpose: each one it sends must be in the document.</summary>
    static readonly string[] ContractHeaders =
        ["Location", "Retry-After", "X-Edit-Id", "X-Seed", "Preference-Applied", "Content-Location", "Content-Disposition", "WWW-Authenticate"];

    [Fact]
    public void The_document_is_valid_openapi()
    {
        var read = OpenApiDocument.Parse(File.ReadAllText(DocumentPath), "json");
        Assert.Empty(read.Diagnostic?.Errors ?? []);
        var errors = read.Document!.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"{e.Pointer}: {e.Message}")));
    }

    sealed record Exchange(HttpMethod Method, string Path, HttpResponseMessage Response, byte[] Body);

    /// <summary>Keeps every response the client receives, body included.</summary>
    sealed class Recorder(ConcurrentQueue<Exchange> exchanges) : DelegatingHandler
    {

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellation)
        {
            var response = await base.SendAsync(request, cancellation);
            var body = await response.Content.ReadAsByteArrayAsync(cancellation);
            var copy = new ByteArrayContent(body);
            foreach (var header in response.Content.Headers) copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            response.Content = copy;
            exchanges.Enqueue(new Exchange(request.Method, request.RequestUri!.AbsolutePath, response, body));
            return response;
        }
    }

    static HttpClient Client(ServiceFactory factory, ConcurrentQueue<Exchange> exchanges) => factory.CreateDefaultClient(new Recorder(exchanges));

    [Fact]
    public async Task Every_response_of_every_operation_matches_the_document()
    {
        var recorder = new ConcurrentQueue<Exchange>();
        await using (var factory = new ServiceFactory { Settings = { ["Queue:Capacity"] = "1", ["Limits:MaxPixels"] = "300000" } })
        {
            await factory.ReadyClientAsync();
            await Scenario(Client(factory, recorder));
        }
        await using (var secured = new ServiceFactory { Settings = { ["Auth:ApiKeys:0"] = "k1" } })
        {
            var client = Client(secured, recorder);
            await client.GetAsync("/v1/edits");
            await client.GetAsync("/v1/relations/rel_x");
        }
        await using (var tiny = new ServiceFactory { Settings = { ["RelationCache:SizeLimitBytes"] = "16" } })
        {
            await tiny.ReadyClientAsync();
            await Client(tiny, recorder).PostAsync("/v1/relations", Api.PairForm());
        }

        using var document = JsonDocument.Parse(File.ReadAllText(DocumentPath));
        var checker = new OpenApiSchemaChecker(document.RootElement);
        var paths = document.RootElement.GetProperty("paths");
        var failures = new List<string>();
        var seen = new HashSet<(string Operation, string Status)>();
        foreach (var exchange in recorder)
        {
            var status = ((int)exchange.Response.StatusCode).ToString();
            var where = $"{exchange.Method} {exchange.Path} → {status}";
            var operation = FindOperation(paths, exchange.Method, exchange.Path);
            if (operation is not { } op) { failures.Add($"{where}: no such operation in the document"); continue; }
            var operationId = op.TryGetProperty("operationId", out var oid) ? oid.GetString()! : exchange.Path;
            seen.Add((operationId, status));
            if (!op.GetProperty("responses").TryGetProperty(status, out var documented)) { failures.Add($"{where}: status not documented"); continue; }

            var headers = documented.TryGetProperty("headers", out var h) ? h.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase) : [];
            foreach (var name in headers.Where(name => !Has(exchange.Response, name))) failures.Add($"{where}: documented header {name} missing");
            foreach (var name in ContractHeaders.Where(name => Has(exchange.Response, name) && !headers.Contains(name)))
                failures.Add($"{where}: header {name} sent but not documented");

            var mediaType = exchange.Response.Content.Headers.ContentType?.MediaType;
            if (!documented.TryGetProperty("content", out var content))
            {
                if (exchange.Body.Length > 0) failures.Add($"{where}: a body is sent but none is documented");
                continue;
            }
            if (mediaType is null || !content.TryGetProperty(mediaType, out var media)) { failures.Add($"{where}: content type {mediaType} not documented"); continue; }
            if (!media.TryGetProperty("schema", out var schema)) continue;
            foreach (var json in JsonBodies(mediaType, exchange.Body))
                failures.AddRange(checker.Check(json, schema).Select(error => $"{where}: {error}"));
        }

        foreach (var pair in seen.OrderBy(p => p.Operation)) output.WriteLine($"exercised {pair.Operation} {pair.Status}");
        var operations = paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject()).Select(o => o.Value.GetProperty("operationId").GetString()!).ToList();
        foreach (var missing in operations.Where(id => !seen.Any(s => s.Operation == id))) failures.Add($"{missing}: never exercised");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static bool Has(HttpResponseMessage response, string header) =>
        response.Headers.NonValidated.Contains(header) || response.Content.Headers.NonValidated.Contains(header);

    static IEnumerable<JsonElement> JsonBodies(string mediaType, byte[] body)
    {
        if (mediaType.EndsWith("json", StringComparison.Ordinal))
            yield return JsonDocument.Parse(body).RootElement.Clone();
        else if (mediaType == "text/event-stream")
            // Each event as the document describes one: its name, its id or retry line, and its data.
            foreach (var sse in Sse.Parse(System.Text.Encoding.UTF8.GetString(body)))
                yield return JsonSerializer.SerializeToElement(new Dictionary<string, object?>
                {
                    ["event"] = sse.Kind,
                    [sse.Id >= 0 ? "id" : "retry"] = sse.Id >= 0 ? sse.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) : sse.Retry,
                    ["data"] = sse.Data,
                });
    }

    static JsonElement? FindOperation(JsonElement paths, HttpMethod method, string path)
    {
        foreach (var template in paths.EnumerateObject())
        {
            var pattern = "^" + Regex.Replace(template.Name.TrimEnd('/'), @"\{[^}]+\}", "[^/]+") + "/?$";
            if (Regex.IsMatch(path, pattern) && template.Value.TryGetProperty(method.Method.ToLowerInvariant(), out var operation)) return operation;
        }
        return null;
    }

    /// <summary>Requests that make every operation answer each of its outcomes that a test can provoke.</summary>
    static async Task Scenario(HttpClient client)
    {
        await client.GetAsync("/healthz");
        await client.GetAsync("/readyz");

        // Relations: created, known, invalid, wrong media type, found, unknown.
        var relation = await (await client.PostAsync("/v1/relations", Api.PairForm())).JsonAsync();
        await client.PostAsync("/v1/relations", Api.PairForm());
        await client.PostAsync("/v1/relations", new MultipartFormDataContent { { new StringContent("x"), "note" } });
        await client.PostAsync("/v1/relations", new StringContent("hello"));
        await client.GetAsync($"/v1/relations/{relation.GetProperty("id").GetString()}");
        foreach (var (path, form) in new (string, Func<HttpContent>)[] { ("/v1/relations", () => Api.PairForm()), ("/v1/edits", () => Api.EditForm()) })
        {
            // The same idempotency key with another request: 422.
            using var first = new HttpRequestMessage(HttpMethod.Post, path) { Content = form() };
            first.Headers.Add("Idempotency-Key", "contract-" + path);
            await client.SendAsync(first);
            using var reused = new HttpRequestMessage(HttpMethod.Post, path) { Content = new MultipartFormDataContent { { new StringContent("other"), "note" } } };
            reused.Headers.Add("Idempotency-Key", "contract-" + path);
            await client.SendAsync(reused);
        }
        await client.GetAsync("/v1/relations/rel_unknown");

        // Edits: synchronous image, then the asynchronous path with every state a client meets.
        using (var wait = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() })
        {
            wait.Headers.Add("Prefer", "wait=60");
            await client.SendAsync(wait);
        }
        // 200 with the job (two results); its one queue place may still be taken by the idempotency section's job.
        HttpResponseMessage? batch = null;
        await Poll.UntilAsync(async () =>
        {
            var batchForm = Api.EditForm();
            Api.AddFile(batchForm, "source_image", Api.Png(80, 64, 9));
            using var wait = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = batchForm };
            wait.Headers.Add("Prefer", "wait=60");
            return (batch = await client.SendAsync(wait)).StatusCode != HttpStatusCode.ServiceUnavailable;
        }, "the batch never found a queue place", seconds: 60);
        var batchId = (await batch!.JsonAsync()).GetProperty("id").GetString();
        await client.GetAsync($"/v1/edits/{batchId}/results/1");
        await client.GetAsync($"/v1/edits/{batchId}/results/2");                                // 404: two sources only
        await client.GetAsync($"/v1/edits/{batchId}/results/0?expires=1&signature=00");         // 403: not a link the service signed
        using (var inline = new HttpRequestMessage(HttpMethod.Post, "/v1/edits")
                   { Content = Api.EditForm(new Dictionary<string, string?> { ["response_format"] = "b64_json" }) })
        {
            inline.Headers.Add("Prefer", "wait=60");
            await client.SendAsync(inline);                                                    // 200: the images inline
        }
        var busy = await Api.BusyWorkerAsync(client);
        var queued = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["output_format"] = "webp", ["cache_threshold"] = "0.1" }));
        await client.PostAsync("/v1/edits", Api.EditForm());                                   // 503: the one place is taken
        await client.GetAsync($"/v1/edits/{queued}");
        await client.GetAsync($"/v1/edits/{queued}/result");                                   // 409: not ready
        await client.GetAsync("/v1/edits?limit=1");
        await client.GetAsync("/v1/edits?limit=0");
        await client.DeleteAsync($"/v1/edits/{queued}");
        await client.DeleteAsync($"/v1/edits/{busy}");
        await Api.WaitForAsync(client, busy, "canceled", "succeeded");

        var done = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["output_format"] = "jpeg" }));
        await client.GetAsync($"/v1/edits/{done}/events");                                      // streams to the end
        await Api.WaitForAsync(client, done, "succeeded");
        await client.GetAsync($"/v1/edits/{done}/result");
        await client.DeleteAsync($"/v1/edits/{done}");                                          // 409: finished
        await client.GetAsync("/v1/edits/ed_unknown");
        await client.GetAsync("/v1/edits/ed_unknown/result");
        await client.GetAsync("/v1/edits/ed_unknown/events");
        await client.DeleteAsync("/v1/edits/ed_unknown");

        // Refusals of POST /v1/edits.
        await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["steps"] = "0" }));
        await client.PostAsync("/v1/edits", Api.EditForm(source: "not an image"u8.ToArray()));
        await client.PostAsync("/v1/edits", Api.EditForm(source: Api.Png(800, 600)));          // 413: over MaxPixels
        await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = "rel_unknown" }, source: Api.Source, withPair: false));
        await client.PostAsync("/v1/edits", new StringContent("prompt=hi", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
    }
}
