using System.Globalization;
using Microsoft.Playwright;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Tests.Support;

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

    [SkippableFact]
    public async Task Submitting_an_edit_shows_progress_then_the_result_beside_the_inputs()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var page = await _browser!.NewPageAsync();
        await page.GotoAsync(_address);
        await Assertions.Expect(page.Locator("#model-status")).ToContainTextAsync("meaningless");

        await page.Locator("#prompt-image").SetInputFilesAsync(Png("before.png", Api.Before));
        await page.Locator("#reference-image").SetInputFilesAsync(Png("after.png", Api.After));
        await page.Locator("#source-image").SetInputFilesAsync(Png("source.png", Api.Source));
        await page.Locator("#prompt").FillAsync("make it look like the example");
        await page.Locator("details summary").ClickAsync();
        await page.Locator("#steps").FillAsync("4");
        await page.Locator("#submit").ClickAsync();

        await Assertions.Expect(page.Locator("#result-figure")).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("#status-line")).ToHaveTextAsync("Succeeded");
        await page.WaitForFunctionAsync("() => { const i = document.getElementById('result-image'); return i.complete && i.naturalWidth > 0; }"); // blob images decode asynchronously
        var size = await page.EvaluateAsync<int[]>("() => { const i = document.getElementById('result-image'); return [i.naturalWidth, i.naturalHeight]; }");
        Assert.Equal([96, 64], size);
        Assert.Equal(1.0, await page.EvaluateAsync<double>("() => document.getElementById('progress-bar').value"));
        Assert.StartsWith("blob:", await page.Locator("#download").GetAttributeAsync("href"));
        await page.WaitForFunctionAsync("() => document.getElementById('preview-source').naturalWidth > 0");
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
