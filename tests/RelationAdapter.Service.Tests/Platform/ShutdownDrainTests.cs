using System.Diagnostics;
using System.Net;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

/// <summary>
/// Queue:DrainPeriod on the real process: after SIGTERM readiness fails and the API answers 503 shutting-down
/// for the drain period, on a listener that stays open; then the process exits.
/// </summary>
[Trait("Category", "Service")]
public sealed class ShutdownDrainTests
{
    static readonly TimeSpan Drain = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task After_sigterm_readiness_fails_and_the_api_answers_shutting_down_until_the_drain_period_ends()
    {
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["Queue:DrainPeriod"] = Drain.ToString(),
            ["Queue:ShutdownGracePeriod"] = "00:00:01",
        });
        var client = service.Client;
        client.Timeout = TimeSpan.FromSeconds(5);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HealthEndpoints.ReadyPath)).StatusCode);

        var clock = Stopwatch.StartNew();
        var exited = service.TerminateAsync(Drain + TimeSpan.FromSeconds(20));
        await Poll.UntilAsync(async () => (await client.GetAsync(HealthEndpoints.ReadyPath)).StatusCode == HttpStatusCode.ServiceUnavailable,
            "readiness never failed after SIGTERM", seconds: 3);
        var readiness = await client.GetAsync(HealthEndpoints.ReadyPath);
        Assert.Equal("shutting-down", (await readiness.JsonAsync()).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HealthEndpoints.LivePath)).StatusCode);

        // Every submission during the drain is refused as shutting down, on a listener that still answers.
        var lastRefusal = TimeSpan.Zero;
        var refusals = 0;
        while (!exited.IsCompleted)
        {
            HttpResponseMessage answer;
            try
            {
                answer = await client.PostAsync("/v1/edits", Api.EditForm());
            }
            catch (HttpRequestException)
            {
                break; // the listener closed: the drain is over
            }
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
            var problem = await answer.JsonAsync();
            Assert.Equal(Problems.Types.ShuttingDown, problem.GetProperty("type").GetString());
            Assert.True(answer.Headers.RetryAfter is not null, "a 503 without Retry-After");
            lastRefusal = clock.Elapsed;
            refusals++;
            await Task.Delay(200);
        }
        var took = await exited;
        Assert.True(refusals > 0, $"no submission was answered after SIGTERM:\n{service.Output}");
        // Refused, not reset, until (nearly) the end of the drain: the listener was open for the whole period.
        Assert.True(lastRefusal >= Drain - TimeSpan.FromSeconds(1), $"the last 503 came {lastRefusal.TotalSeconds:F1} s after SIGTERM; the drain is {Drain.TotalSeconds} s");
        Assert.True(took >= Drain, $"the process exited {took.TotalSeconds:F1} s after SIGTERM, before the {Drain.TotalSeconds} s drain ended");
    }
}
