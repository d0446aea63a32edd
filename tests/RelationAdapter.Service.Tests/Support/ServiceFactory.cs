using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using RelationAdapter.TestKit;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>The service on the tiny preset, with settings a test can override.</summary>
public class ServiceFactory : WebApplicationFactory<Program>
{
    /// <summary>Configuration overrides ("Queue:Capacity" = "1", …).</summary>
    public Dictionary<string, string?> Settings { get; init; } = [];

    /// <summary>The service's clock, when a test moves time itself (a <c>FakeTimeProvider</c>); the system's otherwise.</summary>
    public TimeProvider? Time { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Model:Preset", "tiny");
        builder.UseSetting("Model:Device", "cpu");
        builder.UseSetting("Queue:ShutdownGracePeriod", "00:00:02");
        foreach (var (key, value) in Settings) builder.UseSetting(key, value);
        if (Time is { } time) builder.ConfigureTestServices(services => services.AddSingleton(time));
    }

    /// <summary>A client once the model is loaded.</summary>
    public async Task<HttpClient> ReadyClientAsync()
    {
        var client = CreateClient();
        await Poll.UntilAsync(async () => (await client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK, "the service did not become ready", seconds: 60);
        return client;
    }
}

public static class Api
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <inheritdoc cref="SampleImages.Png"/>
    public static byte[] Png(int width, int height, int phase = 0) => SampleImages.Png(width, height, phase);

    public static readonly byte[] Before = Png(64, 48, 0), After = Png(64, 48, 120), Source = Png(96, 64, 40);

    /// <summary>An edit form; fields set to null are left out.</summary>
    public static MultipartFormDataContent EditForm(IDictionary<string, string?>? fields = null, byte[]? source = null,
        byte[]? before = null, byte[]? after = null, bool withPair = true)
    {
        var form = new MultipartFormDataContent();
        var values = new Dictionary<string, string?> { ["prompt"] = "make it look like the example", ["steps"] = "2", ["seed"] = "42" };
        foreach (var (key, value) in fields ?? new Dictionary<string, string?>()) values[key] = value;
        foreach (var (key, value) in values)
            if (value is not null) form.Add(new StringContent(value), key);
        if (source is not null || withPair) AddFile(form, "source_image", source ?? Source);
        if (withPair)
        {
            AddFile(form, "prompt_image", before ?? Before);
            AddFile(form, "reference_image", after ?? After);
        }
        return form;
    }

    /// <summary>A relation form: the example pair (by default <see cref="Before"/> and <see cref="After"/>).</summary>
    public static MultipartFormDataContent PairForm(byte[]? before = null, byte[]? after = null)
    {
        var form = new MultipartFormDataContent();
        AddFile(form, "prompt_image", before ?? Before);
        AddFile(form, "reference_image", after ?? After);
        return form;
    }

    /// <summary>The body of a GET that must answer 200 (an image, a result).</summary>
    public static async Task<byte[]> BytesAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static void AddFile(MultipartFormDataContent form, string field, byte[] bytes, string contentType = "image/png")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        form.Add(content, field, field + ".png");
    }

    /// <summary>The body as JSON; the content is buffered, so it can be read again.</summary>
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }

    /// <summary>An edit that keeps the tiny model's worker busy for a few seconds (many steps on a large source).</summary>
    public static MultipartFormDataContent SlowEdit() =>
        EditForm(new Dictionary<string, string?> { ["steps"] = "50", ["max_side"] = "512" }, source: Png(512, 512));

    /// <summary>Submits <see cref="SlowEdit"/> and waits until it runs; its id.</summary>
    public static async Task<string> BusyWorkerAsync(HttpClient client)
    {
        var running = await SubmitAsync(client, SlowEdit());
        await WaitForAsync(client, running, "running");
        return running;
    }

    /// <summary>Polls an edit until it reaches one of the given states.</summary>
    public static async Task<JsonElement> WaitForAsync(HttpClient client, string id, params string[] states)
    {
        JsonElement view = default;
        await Poll.UntilAsync(async () =>
        {
            view = await (await client.GetAsync($"/v1/edits/{id}")).JsonAsync();
            return states.Contains(view.GetProperty("status").GetString());
        }, $"edit {id} never became {string.Join(" or ", states)}", seconds: 120);
        return view;
    }

    /// <summary>The edit's webhook attempts (from GET /v1/edits/{id}) once <paramref name="done"/> holds for them.</summary>
    public static async Task<IReadOnlyList<JsonElement>> WebhookAttemptsWhenAsync(HttpClient client, string id, Func<IReadOnlyList<JsonElement>, bool> done,
        int seconds = 60)
    {
        List<JsonElement> attempts = [];
        await Poll.UntilAsync(async () =>
        {
            var view = await (await client.GetAsync($"/v1/edits/{id}")).JsonAsync();
            attempts = view.GetProperty("webhook").GetProperty("attempts").EnumerateArray().ToList();
            return done(attempts);
        }, $"the webhook attempts of {id} never got there", seconds);
        return attempts;
    }

    public static async Task<string> SubmitAsync(HttpClient client, MultipartFormDataContent form)
    {
        var response = await client.PostAsync("/v1/edits", form);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    /// <summary>Reads one Prometheus sample (summed over its label sets, or those with the given label, e.g. <c>outcome="canceled"</c>).</summary>
    public static async Task<double> MetricAsync(HttpClient client, string name, string? label = null)
    {
        var text = await client.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(line => line.StartsWith(name + "{", StringComparison.Ordinal) || line.StartsWith(name + " ", StringComparison.Ordinal))
            .Where(line => label is null || line[..line.IndexOf(' ')].Contains(label, StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }
}
