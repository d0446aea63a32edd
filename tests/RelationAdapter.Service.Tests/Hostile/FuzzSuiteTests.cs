using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;
using Xunit.Abstractions;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests.Hostile;

/// <summary>
/// The seeded fuzz suite over real HTTP: crafted bombs, mutated images in every accepted format and
/// malformed requests. Every bad input must be a 4xx problem+json within a second, and the process must
/// not grow. <c>RA_FUZZ_CASES</c> (default 300 mutations) and <c>RA_FUZZ_SEED</c> make it the longer
/// benchmark run: it prints the counts by status and the RSS curve.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class FuzzSuiteTests(ITestOutputHelper output)
{
    static readonly TimeSpan PerInput = TimeSpan.FromSeconds(1);
    const long MaxRequestBytes = 48L * 1024 * 1024;
    const long RssGrowthBound = 384L << 20;

    sealed record Outcome(string Name, int Status, string? Type, TimeSpan Elapsed, bool IsProblem);

    [Fact]
    public async Task Every_hostile_input_is_a_fast_4xx_problem_and_memory_stays_bounded()
    {
        var mutations = int.TryParse(Environment.GetEnvironmentVariable("RA_FUZZ_CASES"), out var count) ? count : 300;
        var seed = int.TryParse(Environment.GetEnvironmentVariable("RA_FUZZ_SEED"), out var s) ? s : 20261127;
        await using var service = await KestrelService.StartAsync(new()
        {
            ["Queue:Capacity"] = "100000",
            ["Queue:RelationCapacity"] = "64",
            // Accepted pairs fill the relation cache; a small one makes the RSS bound about everything else.
            ["RelationCache:SizeLimitBytes"] = (4 << 20).ToString(CultureInfo.InvariantCulture),
            ["Limits:MaxRequestBytes"] = MaxRequestBytes.ToString(CultureInfo.InvariantCulture),
        });
        var outcomes = new List<Outcome>();
        var failures = new List<string>();
        var rss = new List<(int Cases, long Bytes)>();
        long baseline = 0;

        async Task Check(string name, Func<Task<Outcome>> send, Func<Outcome, bool> acceptable)
        {
            var outcome = await send() with { Name = name };
            outcomes.Add(outcome);
            if (!acceptable(outcome)) failures.Add($"{name}: {outcome.Status} {outcome.Type}");
            if (outcome.Status >= 400 && !outcome.IsProblem) failures.Add($"{name}: {outcome.Status} without problem+json");
            if (outcome.Status >= 400 && outcome.Elapsed > PerInput) failures.Add($"{name}: took {outcome.Elapsed.TotalMilliseconds:F0} ms");
            if (outcomes.Count % 25 == 0) rss.Add((outcomes.Count, Rss()));
            if (rss.Count > 1 && rss[^1].Bytes - rss[^2].Bytes > 64L << 20 && outcomes.Count % 25 == 0)
                output.WriteLine($"  RSS +{(rss[^1].Bytes - rss[^2].Bytes) >> 20} MB in the 25 requests up to {name}");
            if (outcomes.Count == 50) baseline = Rss(); // after the warm-up: pools, JIT, the first decodes
        }

        foreach (var (image, index) in HostileInputs.Crafted().Select((image, index) => (image, index)))
        {
            var asSource = index % 2 == 0;
            await Check($"edit ({(asSource ? "source" : "prompt")}) {image.Name}", () => PostEdit(service.Client, image.Bytes, asSource),
                o => image.ExpectedFor(asSource) is { } expected ? o.Status == expected : o.Status is 202 or 400 or 413);
            if (image.ExpectedAsSource is not null && !asSource)
                await Check($"edit (source) {image.Name}", () => PostEdit(service.Client, image.Bytes, asSource: true), o => o.Status == image.ExpectedAsSource);
            await Check($"relation {image.Name}", () => PostRelation(service.Client, image.Bytes),
                o => image.ExpectedStatus is { } expected ? o.Status == (expected == 202 ? 201 : expected) || (expected == 202 && o.Status == 200) : o.Status is 200 or 201 or 400 or 413);
        }
        foreach (var (image, index) in HostileInputs.Mutated(seed, mutations).Select((image, index) => (image, index)))
        {
            if (index % 3 == 2)
                await Check($"relation {image.Name}", () => PostRelation(service.Client, image.Bytes), o => o.Status is 200 or 201 or 400 or 413);
            else
                await Check($"edit {image.Name}", () => PostEdit(service.Client, image.Bytes, asSource: index % 3 == 0), o => o.Status is 202 or 400 or 413);
        }
        foreach (var path in new[] { "/v1/edits", "/v1/relations" })
        foreach (var request in MalformedRequests.For(path, MaxRequestBytes))
            await Check($"{path} {request.Name}", () => SendRaw(service.Address, request),
                o => o.Status == request.ExpectedStatus && o.Type == "urn:relation-adapter:problem:" + request.ExpectedType || request.HangsUp && o.Status == 0);

        // Accepted jobs wait in the queue (each holding its edit-size images) until the worker gets to them:
        // that is the queue's bounded cost, not growth. Memory is compared once it has drained.
        await Poll.UntilAsync(async () => await Api.MetricAsync(service.Client, ServiceTelemetry.PrometheusNames.QueueDepth) == 0,
            "the accepted jobs never drained from the queue", seconds: 180);
        var final = Rss();
        Report(outcomes, rss, baseline, final);
        // Also the answers nobody read (hung-up clients): the server's own count of 5xx responses.
        var serverErrors = (await service.Client.GetStringAsync("/metrics")).Split('\n')
            .Where(line => line.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal) && line.Contains("http_response_status_code=\"5"))
            .Where(line => !line.Contains("http_route=\"/readyz\"")) // 503 while the model loads is the probe's answer, not an error
            .ToList();
        Assert.True(serverErrors.Count == 0, "5xx answered: " + string.Join("\n", serverErrors));
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(final - baseline < RssGrowthBound, $"RSS grew by {(final - baseline) >> 20} MB over the run");
        Assert.True(await service.Client.GetAsync("/readyz") is { StatusCode: HttpStatusCode.OK }, "the service is still ready");
    }

    static async Task<Outcome> PostEdit(HttpClient client, byte[] image, bool asSource)
    {
        var form = Api.EditForm(new Dictionary<string, string?> { ["steps"] = "1", ["max_side"] = "64" },
            source: asSource ? image : Api.Source, before: asSource ? null : image);
        return await Send(client, "/v1/edits", form);
    }

    static async Task<Outcome> PostRelation(HttpClient client, byte[] image)
    {
        return await Send(client, "/v1/relations", Api.PairForm(image));
    }

    static async Task<Outcome> Send(HttpClient client, string path, HttpContent content)
    {
        var clock = Stopwatch.StartNew();
        using var response = await client.PostAsync(path, content);
        var body = await response.Content.ReadAsStringAsync();
        clock.Stop();
        var isProblem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
        return new("", (int)response.StatusCode, isProblem ? TypeOf(body) : null, clock.Elapsed, isProblem);
    }

    static async Task<Outcome> SendRaw(Uri server, MalformedRequest request)
    {
        var clock = Stopwatch.StartNew();
        RawResponse response;
        try
        {
            response = await RawHttp.SendAsync(server, request.Head, request.Body, request.HangsUp);
        }
        catch (IOException e)
        {
            return new(request.Name, 0, e.Message, clock.Elapsed, false);
        }
        clock.Stop();
        var isProblem = response.ContentType?.StartsWith("application/problem+json", StringComparison.Ordinal) == true;
        return new(request.Name, response.Status, isProblem ? TypeOf(response.Body) : null, clock.Elapsed, isProblem);
    }

    static string? TypeOf(string problem)
    {
        using var document = JsonDocument.Parse(problem);
        return document.RootElement.TryGetProperty("type", out var type) ? type.GetString() : null;
    }

    static long Rss()
    {
        // Aggressive: the GC also gives its free segments back to the OS, so RSS shows what is live.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    void Report(List<Outcome> outcomes, List<(int Cases, long Bytes)> rss, long baseline, long final)
    {
        output.WriteLine($"fuzz: {outcomes.Count} requests");
        foreach (var group in outcomes.GroupBy(o => (o.Status, o.Type)).OrderBy(g => g.Key.Status))
            output.WriteLine($"  {group.Key.Status} {group.Key.Type ?? "-"}: {group.Count()}");
        var problems = outcomes.Where(o => o.Status >= 400).Select(o => o.Elapsed.TotalMilliseconds).Order().ToList();
        if (problems.Count > 0)
            output.WriteLine($"  4xx time: median {problems[problems.Count / 2]:F1} ms, max {problems[^1]:F1} ms");
        foreach (var slow in outcomes.Where(o => o.Status >= 400).OrderByDescending(o => o.Elapsed).Take(3))
            output.WriteLine($"  slowest 4xx: {slow.Elapsed.TotalMilliseconds:F0} ms {slow.Status} {slow.Name}");
        foreach (var slow in outcomes.Where(o => o.Status < 400).OrderByDescending(o => o.Elapsed).Take(3))
            output.WriteLine($"  slowest accepted: {slow.Elapsed.TotalMilliseconds:F0} ms {slow.Status} {slow.Name}");
        output.WriteLine("  RSS (MB) by requests: " + string.Join(", ", rss.Select(p => $"{p.Cases}:{p.Bytes >> 20}")));
        output.WriteLine($"  managed heap at the end: {GC.GetTotalMemory(forceFullCollection: true) >> 20} MB");
        output.WriteLine($"  RSS growth after warm-up: {(final - baseline) >> 20} MB");
    }
}
