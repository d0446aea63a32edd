using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using System.Net;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Tests.Webhooks;

/// <summary>An edit that names a webhook: its events reach a real receiver, signed, and every attempt shows on the job.</summary>
[Trait("Category", "Service")]
public sealed class EditWebhookTests
{
    const string Secret = WebhookDispatcherHost.Secret;

    static ServiceFactory Service(bool allowPrivate = true, TimeProvider? time = null) => new()
    {
        Time = time,
        Settings =
        {
            ["Webhooks:Secret"] = Secret,
            ["Webhooks:AllowPrivateNetworks"] = allowPrivate ? "true" : "false",
            ["Webhooks:InitialBackoff"] = "00:00:00.050",
            ["Webhooks:MaxBackoff"] = "00:00:00.200",
        },
    };

    static async Task<List<ReceivedWebhook>> ReceivedAsync(WebhookReceiver receiver, int count)
    {
        await Poll.UntilAsync(() => receiver.Received.Count >= count, $"fewer than {count} webhooks arrived");
        return [.. receiver.Received];
    }

    [Fact]
    public async Task Started_and_completed_events_are_posted_signed_retried_and_listed_on_the_job()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200, 500, 200);
        await using var factory = Service();
        var client = await factory.ReadyClientAsync();
        // Long enough that the started event is delivered well before the job completes.
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?>
        {
            ["webhook"] = receiver.Url.ToString(), ["webhook_events_filter"] = "started,completed", ["steps"] = "20", ["max_side"] = "256",
        }, source: Api.Png(256, 256)));

        var received = await ReceivedAsync(receiver, 3);
        Assert.All(received, webhook => Assert.True(webhook.SignatureValid));
        var bodies = received.Select(webhook => JsonDocument.Parse(webhook.Body).RootElement).ToList();
        Assert.All(bodies, body => Assert.Equal(id, body.GetProperty("id").GetString()));
        Assert.Equal("running", bodies[0].GetProperty("status").GetString());
        Assert.Equal("succeeded", bodies[2].GetProperty("status").GetString());
        Assert.Equal(received[1].Id, received[2].Id); // a retry keeps its webhook-id
        Assert.NotEqual(received[0].Id, received[1].Id);

        var attempts = await Api.WebhookAttemptsWhenAsync(client, id, attempts => attempts.Count >= 3, seconds: 10);
        Assert.Equal(receiver.Url.ToString(), (await (await client.GetAsync($"/v1/edits/{id}")).JsonAsync()).GetProperty("webhook").GetProperty("url").GetString());
        Assert.Equal(["delivered", "retrying", "delivered"], attempts.Select(a => a.GetProperty("outcome").GetString()));
        Assert.Equal([200, 500, 200], attempts.Select(a => a.GetProperty("http_status").GetInt32()));
    }

    [Fact]
    public async Task By_default_only_completion_is_posted_and_a_canceled_queued_job_completes_too()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200);
        await using var factory = Service();
        var client = await factory.ReadyClientAsync();
        var running = await Api.BusyWorkerAsync(client);
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["webhook"] = receiver.Url.ToString() }));
        await client.DeleteAsync($"/v1/edits/{id}");

        var received = Assert.Single(await ReceivedAsync(receiver, 1));
        Assert.Equal("canceled", JsonDocument.Parse(received.Body).RootElement.GetProperty("status").GetString());
        await client.DeleteAsync($"/v1/edits/{running}");
    }

    [Fact]
    public async Task Webhooks_to_private_addresses_or_without_a_secret_are_refused_at_submission()
    {
        await using (var guarded = Service(allowPrivate: false))
        {
            var client = await guarded.ReadyClientAsync();
            var refused = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["webhook"] = "http://127.0.0.1:9/hook" }));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.True((await refused.JsonAsync()).GetProperty("errors").TryGetProperty("webhook", out _));
            var badFilter = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?>
                { ["webhook"] = "https://example.com/hook", ["webhook_events_filter"] = "finished" }));
            Assert.True((await badFilter.JsonAsync()).GetProperty("errors").TryGetProperty("webhook_events_filter", out _));
        }
        await using var plain = new ServiceFactory();
        var open = await plain.ReadyClientAsync();
        var noSecret = await open.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["webhook"] = "https://example.com/hook" }));
        Assert.Equal(HttpStatusCode.BadRequest, noSecret.StatusCode);
        Assert.Contains("no webhooks", (await noSecret.JsonAsync()).GetProperty("errors").GetProperty("webhook")[0].GetString());
    }

    [Fact]
    public async Task A_job_dropped_after_its_retention_takes_its_webhook_attempts_along()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var factory = Service(time: time);
        var client = await factory.ReadyClientAsync();
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["webhook"] = receiver.Url.ToString() }));
        await ReceivedAsync(receiver, 1);
        var dispatcher = factory.Services.GetRequiredService<RelationAdapter.Service.Webhooks.WebhookDispatcher>();
        await Poll.UntilAsync(async () => (await dispatcher.AttemptsAsync(id)).Count > 0, "the delivered attempt was never recorded", seconds: 5);

        // Past the retention: the next read of the store drops the job.
        time.Advance(factory.Services.GetRequiredService<IOptions<QueueOptions>>().Value.ResultRetention + TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/edits/{id}")).StatusCode);
        await Poll.UntilAsync(async () => (await dispatcher.AttemptsAsync(id)).Count == 0, "the dropped job's attempts are still kept", seconds: 5);
    }
}
