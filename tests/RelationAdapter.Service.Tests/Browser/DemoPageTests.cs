using System.Globalization;
using Microsoft.Playwright;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Browser;

/// <summary>The demo page in headless Chromium against the service on Kestrel (tiny preset, a lower step limit than the default).</summary>
[Trait("Category", "Browser")]
public sealed class DemoPageTests : IAsyncLifetime
{
    const int MaxSteps = 12;
    KestrelService? _service;
    IPlaywright? _playwright;
    IBrowser? _browser;
    string _address = "";

    public async Task InitializeAsync()
    {
        if (Chromium.Unavailable is not null) return;
        _service = await KestrelService.StartAsync(new() { ["Limits:MaxSteps"] = MaxSteps.ToString(CultureInfo.InvariantCulture) });
        _address = _service.Address.ToString().TrimEnd('/');
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium.Path, Headless = true, Args = Chromium.Args,
        });
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
        if (_service is not null) await _service.DisposeAsync();
    }

    static FilePayload Png(string name, byte[] bytes) => new() { Name = name, MimeType = "image/png", Buffer = bytes };

    async Task<IPage> OpenAsync()
    {
        var page = await _browser!.NewPageAsync();
        await page.GotoAsync(_address);
        return page;
    }

    /// <summary>Fills the form: the example pair, the sources, the instruction and the given settings (opening the settings when any).</summary>
    static async Task FillAsync(IPage page, FilePayload[] sources, params (string Field, string Value)[] settings)
    {
        await page.Locator("#prompt-image").SetInputFilesAsync(Png("before.png", Api.Before));
        await page.Locator("#reference-image").SetInputFilesAsync(Png("after.png", Api.After));
        await page.Locator("#source-image").SetInputFilesAsync(sources);
        await page.Locator("#prompt").FillAsync("make it look like the example");
        if (settings.Length > 0) await page.Locator("details summary").ClickAsync();
        foreach (var (field, value) in settings) await page.Locator($"[name={field}]").FillAsync(value);
    }

    /// <summary>The results the page shows once every image has decoded: each figure's caption, image size and download link.</summary>
    static async Task<ShownResult[]> ResultsAsync(IPage page, int count)
    {
        await Assertions.Expect(page.Locator("#result-grid figure")).ToHaveCountAsync(count, new() { Timeout = 120_000 });
        await page.WaitForFunctionAsync("() => [...document.querySelectorAll('#result-grid img')].every(i => i.complete && i.naturalWidth > 0)");
        return await page.EvaluateAsync<ShownResult[]>("""
            () => [...document.querySelectorAll('#result-grid figure')].map(f => ({
              Caption: f.querySelector('figcaption').textContent, Alt: f.querySelector('img').alt,
              Width: f.querySelector('img').naturalWidth, Height: f.querySelector('img').naturalHeight,
              Href: f.querySelector('a[download]').href, Download: f.querySelector('a[download]').download }))
            """);
    }

    // Playwright fills a returned object's settable properties (it needs a parameterless constructor).
    public sealed class ShownResult
    {
        public string Caption { get; set; } = "";
        public string Alt { get; set; } = "";
        public int Width { get; set; }
        public int Height { get; set; }
        public string Href { get; set; } = "";
        public string Download { get; set; } = "";
    }

    /// <summary>A result link as a browser or webhook consumer would follow it: over HTTP, without any API key.</summary>
    async Task<byte[]> DownloadAsync(string href)
    {
        using var client = new HttpClient();
        var response = await client.GetAsync(href);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith(_address + "/v1/edits/", href);
        return await response.Content.ReadAsByteArrayAsync();
    }

    [SkippableFact]
    public async Task Submitting_an_edit_shows_progress_then_the_result_beside_the_inputs()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await OpenAsync();
        await Assertions.Expect(page.Locator("#model-status")).ToContainTextAsync("meaningless");
        await FillAsync(page, [Png("source.png", Api.Source)], ("steps", "4"));
        await page.Locator("#submit").ClickAsync();

        var shown = Assert.Single(await ResultsAsync(page, 1));
        await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("Succeeded");
        Assert.Equal((96, 64), (shown.Width, shown.Height));
        Assert.Equal(1.0, await page.EvaluateAsync<double>("() => document.getElementById('progress-bar').value"));
        await Assertions.Expect(page.Locator("#cancel")).ToBeHiddenAsync();
        await DownloadAsync(shown.Href);
        Assert.EndsWith("-0.png", shown.Download);
        await page.WaitForFunctionAsync("() => document.querySelector('#preview-sources img')?.naturalWidth > 0");
    }

    [SkippableFact]
    public async Task Several_sources_with_two_outputs_each_show_every_result_with_its_seed_and_download_link()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await OpenAsync();
        byte[][] sources = [Api.Source, Api.Png(64, 64, 80)];
        await FillAsync(page, sources.Select((bytes, i) => Png($"source-{i}.png", bytes)).ToArray(), ("steps", "2"), ("seed", "7"));
        await page.Locator("#n").FillAsync("2");
        await Assertions.Expect(page.Locator("#preview-sources figure")).ToHaveCountAsync(sources.Length);
        await page.Locator("#submit").ClickAsync();

        var shown = await ResultsAsync(page, sources.Length * 2);
        await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("Succeeded");
        for (var index = 0; index < shown.Length; index++)
        {
            var (source, output) = (index / 2, index % 2);
            var name = $"Source {source + 1}, output {output + 1}";
            Assert.StartsWith($"{name} · seed {7 + index} · ", shown[index].Caption);
            Assert.Equal($"{name}, edited", shown[index].Alt);
            Assert.Equal(source == 0 ? (96, 64) : (64, 64), (shown[index].Width, shown[index].Height));
            Assert.Contains($"/results/{index}?", shown[index].Href);
            await DownloadAsync(shown[index].Href);
        }
        // Each output is its own prediction: the two outputs of a source differ (their seeds do).
        Assert.NotEqual(await DownloadAsync(shown[0].Href), await DownloadAsync(shown[1].Href));
    }

    [SkippableFact]
    public async Task Cancel_stops_a_running_edit_and_the_page_says_canceled()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await OpenAsync();
        var cancel = page.Locator("#cancel");
        await Assertions.Expect(cancel).ToBeHiddenAsync();
        // A large source at the largest side and every step allowed: the tiny model runs for a while.
        await FillAsync(page, [Png("large.png", Api.Png(1024, 1024))], ("steps", MaxSteps.ToString(CultureInfo.InvariantCulture)), ("max_side", "1024"));
        await page.Locator("#submit").ClickAsync();

        await Assertions.Expect(page.Locator("#status-line")).ToContainTextAsync("Running", new() { Timeout = 60_000 });
        await cancel.ClickAsync();
        await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("Canceled", new() { Timeout = 60_000 });
        await Assertions.Expect(cancel).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#error")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#result-grid figure")).ToHaveCountAsync(0);

        var edit = (await (await _service!.Client.GetAsync("/v1/edits")).JsonAsync()).GetProperty("items").EnumerateArray().Single();
        Assert.Equal("canceled", edit.GetProperty("status").GetString());
        Assert.NotNull(edit.GetProperty("started_at").GetString()); // it was running, not waiting, when it was canceled
        Assert.True(edit.GetProperty("progress").GetProperty("step").GetInt32() < MaxSteps);
    }

    [SkippableFact]
    public async Task A_cancel_answer_that_arrives_after_the_stream_said_canceled_does_not_undo_it()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await OpenAsync();
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The DELETE's answer (the job still running, asked to stop) is held back until the stream has told the page
        // the job was canceled: the order a busy network can produce.
        await page.RouteAsync("**/v1/edits/*", async route =>
        {
            if (route.Request.Method != "DELETE")
            {
                await route.ContinueAsync();
                return;
            }
            var answer = await route.FetchAsync();
            await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("Canceled", new() { Timeout = 60_000 });
            await route.FulfillAsync(new() { Response = answer });
            answered.SetResult();
        });
        await FillAsync(page, [Png("large.png", Api.Png(1024, 1024))], ("steps", MaxSteps.ToString(CultureInfo.InvariantCulture)), ("max_side", "1024"));
        await page.Locator("#submit").ClickAsync();
        await Assertions.Expect(page.Locator("#status-line")).ToContainTextAsync("Running", new() { Timeout = 60_000 });
        await page.Locator("#cancel").ClickAsync();

        await answered.Task.WaitAsync(TimeSpan.FromSeconds(90));
        await page.EvaluateAsync("() => new Promise(done => setTimeout(done, 200))"); // the page has read the late answer
        Assert.Equal("Canceled", await page.Locator("#status-line").TextContentAsync());
        await Assertions.Expect(page.Locator("#cancel")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#error")).ToBeHiddenAsync();
    }

    [SkippableFact]
    public async Task A_failed_submit_clears_the_last_success_and_shows_the_problem()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await OpenAsync();
        await FillAsync(page, [Png("source.png", Api.Source)], ("steps", "2"));
        await page.Locator("#submit").ClickAsync();
        await ResultsAsync(page, 1);
        await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("Succeeded");

        await page.Locator("#source-image").SetInputFilesAsync(Png("source.png", "not an image"u8.ToArray()));
        await page.Locator("#submit").ClickAsync();

        var error = page.Locator("#error");
        await Assertions.Expect(error).ToBeVisibleAsync();
        await Assertions.Expect(error).ToContainTextAsync("An image is invalid.");
        await Assertions.Expect(error).ToContainTextAsync("'source_image': the format is not recognised");
        await Assertions.Expect(page.Locator("#progress")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("");
        await Assertions.Expect(page.Locator("#results")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("#result-grid figure")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#submit")).ToBeEnabledAsync();
    }

    [SkippableFact]
    public async Task The_favicon_is_served_and_the_browser_decodes_each_icon_the_page_names()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var response = await _service!.Client.GetAsync("/favicon.ico");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("image/", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(new byte[] { 0, 0, 1, 0 }, (await response.Content.ReadAsByteArrayAsync())[..4]); // an ICO header

        var page = await OpenAsync();
        var icons = await page.EvaluateAsync<int[]>("""
            () => Promise.all([...document.querySelectorAll('link[rel=icon]'), { href: '/favicon.ico' }].map(link => new Promise((done, fail) => {
              const img = new Image();
              img.onload = () => done(img.naturalWidth);
              img.onerror = () => fail(new Error(`${link.href} did not load as an image`));
              img.src = link.href;
            })))
            """);
        Assert.Equal(3, icons.Length); // the SVG icon, the ICO icon and /favicon.ico itself
        Assert.All(icons, width => Assert.True(width > 0));
    }

    [SkippableFact]
    public async Task The_settings_take_their_bounds_and_defaults_from_the_configured_limits()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await _browser!.NewPageAsync();
        await page.GotoAsync(_address);
        var defaults = new LimitsOptions();
        string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

        var steps = page.Locator("#steps");
        await Assertions.Expect(steps).ToHaveAttributeAsync("max", Text(MaxSteps));
        await Assertions.Expect(steps).ToHaveValueAsync(Text(MaxSteps)); // the default (24) falls to the lower limit
        var maxSide = page.Locator("input[name=max_side]");
        await Assertions.Expect(maxSide).ToHaveAttributeAsync("max", Text(defaults.MaxSideCap));
        await Assertions.Expect(maxSide).ToHaveValueAsync(Text(defaults.DefaultMaxSide));
        await Assertions.Expect(page.Locator("#prompt")).ToHaveAttributeAsync("maxlength", Text(defaults.MaxPromptLength));
    }

    [SkippableFact]
    public async Task Problems_from_the_service_are_shown_with_each_field()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await _browser!.NewPageAsync();
        await page.GotoAsync(_address);
        await page.Locator("#source-image").SetInputFilesAsync(Png("source.png", Api.Source));
        await page.Locator("#prompt").FillAsync("no example given");
        await page.Locator("#submit").ClickAsync();

        var error = page.Locator("#error");
        await Assertions.Expect(error).ToBeVisibleAsync();
        await Assertions.Expect(error).ToContainTextAsync("One or more fields are invalid.");
        await Assertions.Expect(error).ToContainTextAsync("prompt_image: is required unless relation_id is given.");
    }
}
