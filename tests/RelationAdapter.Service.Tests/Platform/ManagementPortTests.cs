using System.Net;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

/// <summary>
/// Management:Port on the real process (WebApplicationFactory has no second Kestrel port): /metrics, whose labels
/// name API keys, answers only there; the probes answer on both ports.
/// </summary>
[Trait("Category", "Service")]
public sealed class ManagementPortTests
{
    [Fact]
    public async Task Metrics_answer_only_on_the_management_port_and_probes_on_both()
    {
        var managementPort = LoopbackPort.Free();
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["Management:Port"] = managementPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Auth:ApiKeys:0:Name"] = "alice",
            ["Auth:ApiKeys:0:Key"] = "alice-secret",
        });
        var main = service.Client;
        main.DefaultRequestHeaders.Authorization = new("Bearer", "alice-secret");
        using var management = new HttpClient { BaseAddress = new UriBuilder(service.Address) { Port = managementPort }.Uri };

        var job = await Api.SubmitAsync(main, Api.EditForm(new Dictionary<string, string?> { ["steps"] = "2" }));
        await Api.WaitForAsync(main, job, "succeeded");

        var scrape = await management.GetAsync(TelemetryRegistration.MetricsPath);
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        var metrics = await scrape.Content.ReadAsStringAsync();
        Assert.Contains(ServiceTelemetry.PrometheusNames.QueueDepth, metrics);
        Assert.Contains("api_key=\"alice\"", metrics);

        var hidden = await main.GetAsync(TelemetryRegistration.MetricsPath);
        Assert.Equal(HttpStatusCode.NotFound, hidden.StatusCode);
        Assert.DoesNotContain("alice", await hidden.Content.ReadAsStringAsync());
        // The local port decides, not the Host header a client chooses.
        using var spoofed = new HttpRequestMessage(HttpMethod.Get, TelemetryRegistration.MetricsPath);
        spoofed.Headers.Host = $"127.0.0.1:{managementPort}";
        Assert.Equal(HttpStatusCode.NotFound, (await main.SendAsync(spoofed)).StatusCode);

        foreach (var client in new[] { main, management })
        foreach (var probe in new[] { HealthEndpoints.LivePath, HealthEndpoints.ReadyPath })
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(probe)).StatusCode);
    }

    [Fact]
    public async Task The_management_port_joins_the_http_ports_a_container_sets()
    {
        // The container image listens through ASPNETCORE_HTTP_PORTS, not URLs: the deploy/ layouts take this path.
        var main = LoopbackPort.Free();
        var managementPort = LoopbackPort.Free();
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = "",
            ["ASPNETCORE_HTTP_PORTS"] = main.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Management:Port"] = managementPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, port: main);
        using var management = new HttpClient { BaseAddress = new UriBuilder(service.Address) { Port = managementPort }.Uri };
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync(TelemetryRegistration.MetricsPath)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync(HealthEndpoints.ReadyPath)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await service.Client.GetAsync(TelemetryRegistration.MetricsPath)).StatusCode);
    }

    [Theory]
    [InlineData("70000", "ManagementOptions")]
    [InlineData("main", "Management:Port")]
    public async Task A_bad_management_port_stops_the_service_at_start_naming_the_key(string port, string named)
    {
        var main = LoopbackPort.Free();
        var settings = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{main}",
            ["Management:Port"] = port == "main" ? main.ToString(System.Globalization.CultureInfo.InvariantCulture) : port,
        };
        var refused = await Assert.ThrowsAsync<TimeoutException>(() => ServiceProcess.StartAsync(settings, readyWithin: TimeSpan.FromSeconds(60)));
        Assert.Contains(named, refused.Message);
    }
}
