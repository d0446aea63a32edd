using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Hostile;

/// <summary>Overload and hostile-use regressions: admission before work, bounded memory per job, exact accounting, relations.</summary>
[Trait("Category", "Service")]
public class AdmissionTests
{
    const string ProblemPrefix = "urn:relation-adapter:problem:";
    const string Canceled = "outcome=\"canceled\"";

    [Fact]
    public async Task Cancel_storms_give_every_place_back()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:Capacity"] = "4" } };
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        var canceledBefore = await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.Jobs, Canceled);
        for (var i = 0; i < 10; i++)
        {
            var id = await Api.SubmitAsync(client, Api.EditForm());
            Assert.Equal(HttpStatusCode.Accepted, (await client.DeleteAsync($"/v1/edits/{id}")).StatusCode);
        }
        var accepted = new List<string>();
        for (var i = 0; i < 4; i++) accepted.Add(await Api.SubmitAsync(client, Api.EditForm()));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        Assert.Equal(4, await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.QueueDepth));
        Assert.Equal(10, await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.Jobs, Canceled) - canceledBefore);
        foreach (var id in accepted.Append(running)) await client.DeleteAsync($"/v1/edits/{id}");
    }

    [Fact]
    public async Task A_queued_job_holds_its_images_at_the_size_the_pipeline_uses_and_none_after_a_cancel()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["max_side"] = "64" },
            source: Api.Png(1200, 900), before: Api.Png(1600, 1200, 3), after: Api.Png(1600, 1200, 90)));

        var job = factory.Services.GetRequiredService<JobStore>().Find(id)!;
        var inputs = job.Inputs!;
        var source = Assert.Single(inputs.Sources);
        Assert.Equal((64, 48), (source.Width, source.Height));
        Assert.Equal((512, 384), (inputs.Relation.PaddedPromptImage!.Width, inputs.Relation.PaddedPromptImage.Height));
        Assert.Equal((512, 384), (inputs.Relation.PaddedReferenceImage!.Width, inputs.Relation.PaddedReferenceImage.Height));

        await client.DeleteAsync($"/v1/edits/{id}");
        Assert.Throws<ObjectDisposedException>(() => source.CloneAs<Rgb24>());
        Assert.Throws<ObjectDisposedException>(() => inputs.Relation.PaddedPromptImage.CloneAs<Rgb24>());
        Assert.Null(job.Inputs);
        await client.DeleteAsync($"/v1/edits/{running}");
    }

    [Fact]
    public async Task An_edit_of_a_shrunk_source_equals_the_edit_of_the_source_at_its_edit_size()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        // Shrinking at admission must not change the numerics: a 128x96 upload edited at 64 is a 64x48 source edited as is.
        using var large = Image.Load<Rgb24>(Api.Png(128, 96));
        large.Mutate(x => x.Resize(64, 48, KnownResamplers.Lanczos3));
        using var small = new MemoryStream();
        large.Save(small, new PngEncoder());

        async Task<byte[]> Edit(byte[] source)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits")
            {
                Content = Api.EditForm(new Dictionary<string, string?> { ["max_side"] = "64" }, source: source),
            };
            request.Headers.Add("Prefer", "wait=60");
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await response.Content.ReadAsByteArrayAsync();
        }
        Assert.Equal(await Edit(small.ToArray()), await Edit(Api.Png(128, 96)));
    }

    [Fact]
    public async Task A_prefer_wait_client_that_leaves_cancels_its_queued_job()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() };
        request.Headers.Add("Prefer", "wait=60");
        using var leave = new CancellationTokenSource();
        var waiting = client.SendAsync(request, leave.Token);
        await Poll.UntilAsync(async () => await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.QueueDepth) == 1, "the waiting client's job is not queued");
        leave.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);

        await Poll.UntilAsync(async () => await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.Jobs, Canceled) >= 1, "the abandoned job was not canceled", seconds: 10);
        Assert.Equal(0, await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.QueueDepth));
        await client.DeleteAsync($"/v1/edits/{running}");
    }

    static MultipartFormDataContent Pair(int phase) => Api.PairForm(Api.Png(64, 48, phase), Api.Png(64, 48, phase + 100));

    [Fact]
    public async Task A_created_relation_is_always_cached_and_the_least_recently_used_makes_room()
    {
        long relationBytes;
        await using (var probe = new ServiceFactory())
            relationBytes = (await (await (await probe.ReadyClientAsync()).PostAsync("/v1/relations", Pair(1))).JsonAsync()).GetProperty("bytes").GetInt64();

        await using var factory = new ServiceFactory { Settings = { ["RelationCache:SizeLimitBytes"] = (2 * relationBytes).ToString() } };
        var client = await factory.ReadyClientAsync();
        var ids = new List<string>();
        for (var phase = 1; phase <= 3; phase++)
        {
            var created = await client.PostAsync("/v1/relations", Pair(phase));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            ids.Add((await created.JsonAsync()).GetProperty("id").GetString()!);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/relations/{ids[^1]}")).StatusCode);
            if (phase == 2) await client.GetAsync($"/v1/relations/{ids[0]}"); // the first is now the more recently used
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/relations/{ids[0]}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/relations/{ids[1]}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/relations/{ids[2]}")).StatusCode);
    }

    [Fact]
    public async Task Concurrent_requests_for_one_pair_share_one_encoding()
    {
        var encodings = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ServiceTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { if (activity.OperationName == "relation.encode") encodings.Add(activity); },
        };
        ActivitySource.AddActivityListener(listener);
        await using var factory = new ServiceFactory { Settings = { ["Queue:RelationCapacity"] = "16" } };
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client); // the pair waits behind it, so every request finds it under way

        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => client.PostAsync("/v1/relations", Pair(7))));
        Assert.All(responses, response => Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, response.StatusCode.ToString()));
        Assert.Single(responses, response => response.StatusCode == HttpStatusCode.Created);
        var id = Assert.Single(responses.Select(r => r.JsonAsync().Result.GetProperty("id").GetString()).Distinct());
        // An encoding's span ends just after its requests are answered.
        await Poll.UntilAsync(() => encodings.Any(activity => (string?)activity.GetTagItem("relation.id") == id), "the encoding's span never ended");
        Assert.Single(encodings, activity => (string?)activity.GetTagItem("relation.id") == id);
        await client.DeleteAsync($"/v1/edits/{running}");
    }

    [Fact]
    public async Task Relation_requests_beyond_their_own_capacity_are_refused_at_once_and_uploads_in_progress_hold_no_place()
    {
        await using var service = await KestrelService.StartAsync(new() { ["Queue:RelationCapacity"] = "1" });
        // A trickling upload holds an upload slot, never the relation place: that is taken once the body is complete.
        var trickle = RawHttp.SendAsync(service.Address,
            "POST /v1/relations HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000",
            "--b\r\n"u8.ToArray(), timeout: TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(() => service.Service<UploadAdmission>().InProgress == 1, "the trickling upload was never admitted");
        Assert.Equal(1, service.Service<RelationPlaces>().Free);

        // A pair waiting for the busy worker holds the only place.
        var running = await Api.BusyWorkerAsync(service.Client);
        var waiting = service.Client.PostAsync("/v1/relations", Pair(4));
        await Poll.UntilAsync(() => service.Service<RelationPlaces>().Free == 0, "the waiting pair never took the only place");
        var refused = await service.Client.PostAsync("/v1/relations", Pair(3));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(ProblemPrefix + "queue-full", (await refused.JsonAsync()).GetProperty("type").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);
        // Edits are admitted all the same.
        Assert.Equal(HttpStatusCode.Accepted, (await service.Client.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        await service.Client.DeleteAsync($"/v1/edits/{running}");
        Assert.Equal(HttpStatusCode.Created, (await waiting).StatusCode);
        _ = trickle;
    }

    [Fact]
    public async Task Relations_and_edits_take_turns_on_the_worker()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        var queuedEdit = await Api.SubmitAsync(client, Api.EditForm());
        var relations = Enumerable.Range(0, 4).Select(i => client.PostAsync("/v1/relations", Pair(20 + i))).ToList();
        var encoder = factory.Services.GetRequiredService<RelationEncoder>();
        await Poll.UntilAsync(() => encoder.Pending == 4, "the four pairs are not all waiting for the worker");
        await client.DeleteAsync($"/v1/edits/{running}");

        var edit = await Api.WaitForAsync(client, queuedEdit, "succeeded");
        var editStarted = edit.GetProperty("started_at").GetDateTimeOffset();
        var created = (await Task.WhenAll(relations)).Select(r => r.JsonAsync().Result.GetProperty("created_at").GetDateTimeOffset()).ToList();
        Assert.True(created.Count(at => at < editStarted) <= 1, $"edit started at {editStarted:O}; relations at {string.Join(", ", created.Select(c => c.ToString("O")))}");
    }

    [Fact]
    public async Task The_problem_of_a_relation_cache_too_small_for_one_relation_names_the_setting()
    {
        await using var factory = new ServiceFactory { Settings = { ["RelationCache:SizeLimitBytes"] = "16" } };
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/relations", Pair(5));
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var problem = await response.JsonAsync();
        Assert.Contains("RelationCache:SizeLimitBytes", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_relation_place_stays_taken_until_its_pair_is_encoded_even_when_the_client_left()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:RelationCapacity"] = "1" } };
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client); // the pair waits for the worker
        var encoder = factory.Services.GetRequiredService<RelationEncoder>();
        using (var leave = new CancellationTokenSource())
        {
            var abandoned = client.PostAsync("/v1/relations", Pair(41), leave.Token);
            // The client leaves once its pair is handed over: a request that leaves earlier gives its place back.
            await Poll.UntilAsync(() => encoder.Pending == 1, "the pair was not handed over");
            leave.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/v1/relations", Pair(42))).StatusCode);
        await client.DeleteAsync($"/v1/edits/{running}");
        HttpResponseMessage? later = null;
        await Poll.UntilAsync(async () => (later = await client.PostAsync("/v1/relations", Pair(42))).StatusCode != HttpStatusCode.ServiceUnavailable,
            "the pair never found a place", seconds: 30);
        Assert.Equal(HttpStatusCode.Created, later!.StatusCode);
    }
}
