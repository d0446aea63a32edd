using System.Net;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;

namespace RelationAdapter.Service.Tests.Edits;

[Trait("Category", "Service")]
public class EditsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Async_edit_reports_progress_and_returns_a_decodable_image_of_the_reported_size()
    {
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/edits", Api.EditForm());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var submitted = await response.JsonAsync();
        var id = submitted.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/edits/{id}", response.Headers.Location!.ToString());
        Assert.Equal(42, submitted.GetProperty("seed").GetInt64());

        var done = await Api.WaitForAsync(client, id, "succeeded", "failed");
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        Assert.Equal(2, done.GetProperty("progress").GetProperty("step").GetInt32());
        Assert.True(done.GetProperty("timings_ms").GetProperty("denoise").GetDouble() > 0);

        var result = await client.GetAsync($"/v1/edits/{id}/result");
        Assert.Equal(HttpStatusCode.OK, result.StatusCode);
        Assert.Equal("image/png", result.Content.Headers.ContentType!.MediaType);
        using var image = Image.Load(await result.Content.ReadAsByteArrayAsync());
        Assert.Equal(done.GetProperty("width").GetInt32(), image.Width);
        Assert.Equal(done.GetProperty("height").GetInt32(), image.Height);
        Assert.Equal((96, 64), (image.Width, image.Height));
    }

    [Fact]
    public async Task The_step_cache_is_opt_in_and_the_job_reports_computed_and_reused_steps()
    {
        var client = await factory.ReadyClientAsync();
        var plain = await Api.WaitForAsync(client, await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["steps"] = "4" })), "succeeded", "failed");
        var cached = await Api.WaitForAsync(client, await Api.SubmitAsync(client,
            Api.EditForm(new Dictionary<string, string?> { ["steps"] = "4", ["cache_threshold"] = "10" })), "succeeded", "failed");

        Assert.Equal(0, plain.GetProperty("cache_threshold").GetDouble());
        Assert.Equal(4, plain.GetProperty("denoise_steps").GetProperty("computed").GetInt32());
        Assert.Equal(0, plain.GetProperty("denoise_steps").GetProperty("reused").GetInt32());
        Assert.Equal(10, cached.GetProperty("cache_threshold").GetDouble());
        Assert.Equal(1, cached.GetProperty("denoise_steps").GetProperty("computed").GetInt32());
        Assert.Equal(3, cached.GetProperty("denoise_steps").GetProperty("reused").GetInt32());
    }

    [Fact]
    public async Task Prefer_wait_answers_200_with_the_image_and_the_same_seed_gives_the_same_bytes()
    {
        var client = await factory.ReadyClientAsync();
        async Task<byte[]> EditAsync(string seed, string format = "png")
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits")
            {
                Content = Api.EditForm(new Dictionary<string, string?> { ["seed"] = seed, ["output_format"] = format }),
            };
            request.Headers.Add("Prefer", "wait=60");
            var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(seed, response.Headers.GetValues("X-Seed").Single());
            Assert.Equal("wait=60", response.Headers.GetValues("Preference-Applied").Single());
            return await response.Content.ReadAsByteArrayAsync();
        }

        var first = await EditAsync("7");
        var second = await EditAsync("7");
        var other = await EditAsync("8");
        Assert.Equal(first, second);
        Assert.NotEqual(first, other);
        using var image = Image.Load(first);
        Assert.Equal((96, 64), (image.Width, image.Height));

        var jpeg = await EditAsync("7", "jpeg");
        Assert.Equal("image/jpeg", Image.DetectFormat(jpeg)!.DefaultMimeType);
        var webp = await EditAsync("7", "webp");
        Assert.Equal("image/webp", Image.DetectFormat(webp)!.DefaultMimeType);
    }

    [Fact]
    public async Task Seed_is_random_within_the_exact_json_range_when_absent_and_always_returned()
    {
        var client = await factory.ReadyClientAsync();
        var first = await (await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["seed"] = null }))).JsonAsync();
        var second = await (await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["seed"] = null }))).JsonAsync();
        Assert.NotEqual(first.GetProperty("seed").GetInt64(), second.GetProperty("seed").GetInt64());
        foreach (var seed in new[] { first, second }.Select(view => view.GetProperty("seed").GetInt64()))
            Assert.InRange(seed, 0, (1L << 53) - 1);
        await Api.WaitForAsync(client, second.GetProperty("id").GetString()!, "succeeded");
    }

    [Fact]
    public async Task Max_side_shrinks_the_source_to_multiples_of_16()
    {
        var client = await factory.ReadyClientAsync();
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["max_side"] = "48" }, source: Api.Png(100, 70)));
        var done = await Api.WaitForAsync(client, id, "succeeded");
        Assert.Equal((48, 32), (done.GetProperty("width").GetInt32(), done.GetProperty("height").GetInt32()));
    }

    [Fact]
    public async Task Events_stream_status_queue_moves_start_every_step_and_the_final_state_with_increasing_ids()
    {
        var client = await factory.ReadyClientAsync();
        var busy = await Api.BusyWorkerAsync(client);
        var ahead = await Api.SubmitAsync(client, Api.EditForm());
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["steps"] = "3" }));
        using var response = await client.GetAsync($"/v1/edits/{id}/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        await client.DeleteAsync($"/v1/edits/{ahead}");
        await client.DeleteAsync($"/v1/edits/{busy}");
        var body = await response.Content.ReadAsStringAsync();

        var events = Sse.Parse(body);
        Assert.StartsWith("retry: ", body);
        Assert.Equal(["status", "queue_position", "started"], events.Take(3).Select(e => e.Kind));
        Assert.Equal("queued", events[0].Data.GetProperty("status").GetString());
        Assert.Equal(1, events[0].Data.GetProperty("queue_position").GetInt32());
        Assert.Equal(0, events[1].Data.GetProperty("queue_position").GetInt32());
        Assert.Equal("succeeded", events[^1].Kind);
        Assert.True(events.Zip(events.Skip(1)).All(pair => pair.Second.Id > pair.First.Id), "event ids increase");
        foreach (var step in new[] { 1, 2, 3 })
            Assert.Contains($"\"progress\":{{\"step\":{step},\"total\":3}}", body);
    }

    [Fact]
    public async Task Reconnecting_with_the_last_event_id_resumes_without_repeats_and_heartbeats_keep_a_quiet_stream_alive()
    {
        await using var quick = new ServiceFactory { Settings = { ["Queue:EventHeartbeat"] = "00:00:00.200" } };
        var client = await quick.ReadyClientAsync();
        var busy = await Api.BusyWorkerAsync(client);
        var id = await Api.SubmitAsync(client, Api.EditForm());

        // A queued job: nothing happens for a while, so the stream carries heartbeat comments.
        using (var safety = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            using var response = await client.GetAsync($"/v1/edits/{id}/events", HttpCompletionOption.ResponseHeadersRead);
            var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var lines = new List<string>();
            while (!lines.Contains(": heartbeat") || !lines.Any(line => line.StartsWith("id: ")))
                lines.Add(await reader.ReadLineAsync(safety.Token) ?? throw new InvalidOperationException("the stream ended: " + string.Join(" | ", lines)));
            var lastId = long.Parse(lines.Last(line => line.StartsWith("id: ")).Split(' ')[1]);

            // Resuming from the last id seen: no repeat of that state, only what happens next.
            using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/edits/{id}/events");
            resume.Headers.Add("Last-Event-ID", lastId.ToString());
            using var resumed = await client.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
            await client.DeleteAsync($"/v1/edits/{busy}");
            var events = Sse.Parse(await resumed.Content.ReadAsStringAsync());
            Assert.Equal("started", events[0].Kind);
            Assert.True(events[0].Id > lastId);
            Assert.Equal("succeeded", events[^1].Kind);
        }
    }
}
