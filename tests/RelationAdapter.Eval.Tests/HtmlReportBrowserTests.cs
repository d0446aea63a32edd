using System.Globalization;
using Microsoft.Playwright;
using RelationAdapter.Eval.Tests.Support;
using RelationAdapter.Service.Tests.Browser;

namespace RelationAdapter.Eval.Tests;

/// <summary>report.html in the headless Chromium the Service's browser tests use.</summary>
[Trait("Category", "Browser")]
public sealed class HtmlReportBrowserTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ra-report-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [SkippableFact]
    public async Task The_report_shows_every_sample_with_inline_pictures_worst_first_and_sorts_by_any_runs_metric()
    {
        Skip.If(Chromium.Unavailable is not null, Chromium.Unavailable);
        var data = Fixture.WriteJsonl(_root);
        foreach (var (name, seed) in new[] { ("first", "1000"), ("second", "5") })
        {
            var run = Path.Combine(_root, "runs", name);
            await Cli.SucceedAsync("run", "--data", data, "--out", run, "--preset", "tiny", "--device", "cpu", "--steps", "1", "--seed", seed);
            await Cli.SucceedAsync("score", run);
        }
        var report = Path.Combine(_root, "report");
        await Cli.SucceedAsync("report", Path.Combine(_root, "runs", "first"), Path.Combine(_root, "runs", "second"), "--out", report);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Chromium.Path, Headless = true, Args = Chromium.Args });
        var page = await browser.NewPageAsync();
        var fetched = new List<string>();
        page.Request += (_, request) => fetched.Add(request.Url);
        await page.GotoAsync(new Uri(Path.Combine(report, "report.html")).AbsoluteUri);

        var rows = page.Locator("#samples tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        await page.WaitForFunctionAsync("() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)");
        var sources = await page.EvaluateAsync<string[]>("() => Array.from(document.querySelectorAll('#samples img')).map(i => i.src)");
        Assert.Equal(3 * (4 + 2), sources.Length);
        Assert.All(sources, s => Assert.StartsWith("data:image/", s));
        Assert.All(fetched, url => Assert.True(url.StartsWith("file:", StringComparison.Ordinal) || url.StartsWith("data:", StringComparison.Ordinal), url));
        await Assertions.Expect(page.Locator("table.summary").First).ToContainTextAsync("first");

        async Task<double[]> Column(string key) =>
            (await page.EvaluateAsync<string[]>($"() => Array.from(document.querySelectorAll('#samples tbody tr')).map(r => r.getAttribute('data-{key}'))"))
            .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();

        var byFirstMse = await Column("r0-mse");
        Assert.Equal(byFirstMse.OrderDescending(), byFirstMse); // worst (largest MSE) first by default

        await page.Locator("button.sort[data-key='r1-mse']").ClickAsync();
        var bySecondMse = await Column("r1-mse");
        Assert.Equal(bySecondMse.OrderDescending(), bySecondMse);
        await Assertions.Expect(page.Locator("button.sort.active")).ToHaveAttributeAsync("data-key", "r1-mse");

        await page.Locator("button.sort[data-key='r1-mse']").ClickAsync();
        var bestFirst = await Column("r1-mse");
        Assert.Equal(bestFirst.Order(), bestFirst);
        Assert.Equal(bySecondMse.Order(), bestFirst);
    }
}
