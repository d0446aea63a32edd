using System.Net;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>SIGTERM to the service process, as Kubernetes stops a pod: waiting clients are answered, nothing new starts, the process exits in time.</summary>
[Trait("Category", "Service")]
public sealed class ShutdownTests
{
    [Fact]
    public async Task On_sigterm_waiting_clients_are_told_their_job_was_canceled_and_the_process_exits_within_the_grace_period()
    {
        const int graceSeconds = 2;
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["Queue:ShutdownGracePeriod"] = $"00:00:0{graceSeconds}",
        });
        var client = service.Client;
        // Long enough to outlast the test's waits, so the jobs behind it are surely still queued at SIGTERM.
        var running = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["steps"] = "50", ["max_side"] = "1024" }, source: Api.Png(1024, 1024)));
        await Api.WaitForAsync(client, running, "running");
        using var waitRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() };
        waitRequest.Headers.Add("Prefer", "wait=60");
        var waiting = client.SendAsync(waitRequest);
        var queued = await Api.SubmitAsync(client, Api.EditForm());
        using var eventsResponse = await client.GetAsync($"/v1/edits/{queued}/events", HttpCompletionOption.ResponseHeadersRead);
        var events = eventsResponse.Content.ReadAsStringAsync();
        await Poll.UntilAsync(async () => await Api.MetricAsync(client, ServiceTelemetry.PrometheusNames.QueueDepth) == 2, "the waiting client's job is not queued");
        Assert.Equal("queued", (await (await client.GetAsync($"/v1/edits/{queued}")).JsonAsync()).GetProperty("status").GetString());
        Assert.Equal("running", (await (await client.GetAsync($"/v1/edits/{running}")).JsonAsync()).GetProperty("status").GetString());

        var took = await service.TerminateAsync(TimeSpan.FromSeconds(graceSeconds + 15));
        // The running job stops at its next step after the grace period: on a loaded 2-core machine a 1024² step of the
        // tiny model alone can take seconds, hence the slack; a process that waited for the job to finish would take far longer.
        Assert.True(took < TimeSpan.FromSeconds(graceSeconds + 10), $"shutdown took {took.TotalSeconds:F1} s:\n{service.Output}");

        var answer = await waiting; // answered, not reset
        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        Assert.Equal("canceled", (await answer.JsonAsync()).GetProperty("status").GetString());
        var stream = Sse.Parse(await events);
        Assert.Equal("canceled", stream[^1].Kind);
        Assert.DoesNotContain(stream, e => e.Kind == "started"); // a queued job never starts after SIGTERM
    }
}
