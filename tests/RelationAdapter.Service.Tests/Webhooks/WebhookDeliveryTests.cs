using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Tests.Webhooks;

/// <summary>The dispatcher against a real receiver on a loopback socket: signatures, retries, limits, refusals, metrics.</summary>
[Trait("Category", "Service")]
public class WebhookDeliveryTests
{
    const string Secret = WebhookDispatcherHost.Secret;

    static WebhookDelivery Delivery(string jobId, Uri url, string webhookEvent = WebhookEvents.Completed) =>
        new(jobId, url.ToString(), webhookEvent, Encoding.UTF8.GetBytes($"{{\"id\":\"{jobId}\",\"status\":\"succeeded\"}}"));

    [Fact]
    public async Task A_delivery_is_posted_as_signed_json_that_the_receiver_verifies()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200);
        await using var host = await WebhookDispatcherHost.StartAsync();
        var delivery = Delivery("ed_sig", receiver.Url);

        Assert.True(await host.Dispatcher.EnqueueAsync(delivery));

        var attempt = Assert.Single(await host.FinalAttemptsAsync("ed_sig"));
        Assert.Equal((1, 200, WebhookOutcome.Delivered, null, null), (attempt.Number, attempt.HttpStatus, attempt.Outcome, attempt.Error, attempt.NextAttemptAt));
        Assert.Equal((delivery.Id, WebhookEvents.Completed), (attempt.DeliveryId, attempt.Event));
        var received = Assert.Single(receiver.Received);
        Assert.True(received.SignatureValid);
        Assert.Equal("msg_ed_sig_completed", received.Id);
        Assert.StartsWith("v1,", received.Signature);
        Assert.Equal("application/json", received.ContentType);
        Assert.Equal("RelationAdapter.Service", received.UserAgent);
        Assert.Equal(delivery.Body, received.Body);
        Assert.InRange(long.Parse(received.Timestamp!), attempt.At.ToUnixTimeSeconds(), attempt.At.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task Failures_are_retried_after_growing_waits_until_the_receiver_takes_it()
    {
        using var metrics = new AttemptCounts();
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 500, 500, 200);
        await using var host = await WebhookDispatcherHost.StartAsync();
        await host.Dispatcher.EnqueueAsync(Delivery("ed_retry", receiver.Url));

        var attempts = await host.FinalAttemptsAsync("ed_retry");

        Assert.Equal([(1, 500, WebhookOutcome.Retrying), (2, 500, WebhookOutcome.Retrying), (3, 200, WebhookOutcome.Delivered)],
            attempts.Select(a => (a.Number, a.HttpStatus ?? 0, a.Outcome)));
        // InitialBackoff 40 ms: the first wait is 20-40 ms, the second 40-80 ms, and no attempt comes early.
        var waits = attempts.Take(2).Select(a => a.NextAttemptAt!.Value - a.At - TimeSpan.FromMilliseconds(a.DurationMs)).ToList();
        var slack = TimeSpan.FromMilliseconds(0.1); // DurationMs is rounded to 0.1 ms
        Assert.InRange(waits[0], TimeSpan.FromMilliseconds(20) - slack, TimeSpan.FromMilliseconds(40) + slack);
        Assert.InRange(waits[1], TimeSpan.FromMilliseconds(40) - slack, TimeSpan.FromMilliseconds(80) + slack);
        Assert.True(waits[1] > waits[0] - slack);
        Assert.True(attempts[1].At >= attempts[0].NextAttemptAt && attempts[2].At >= attempts[1].NextAttemptAt);

        Assert.Equal(3, receiver.Received.Count);
        Assert.All(receiver.Received, webhook => Assert.True(webhook.SignatureValid));
        Assert.Single(receiver.Received.Select(webhook => webhook.Id).Distinct());
        Assert.Equal(2, metrics.Of(WebhookEvents.Completed, "retrying"));
        Assert.Equal(1, metrics.Of(WebhookEvents.Completed, "delivered"));
    }

    [Fact]
    public async Task A_receiver_that_always_fails_gets_MaxAttempts_then_the_delivery_fails()
    {
        using var metrics = new AttemptCounts();
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 503);
        await using var host = await WebhookDispatcherHost.StartAsync(settings => settings["Webhooks:MaxAttempts"] = "3");
        await host.Dispatcher.EnqueueAsync(Delivery("ed_fail", receiver.Url, WebhookEvents.Started));

        var attempts = await host.FinalAttemptsAsync("ed_fail");

        Assert.Equal([WebhookOutcome.Retrying, WebhookOutcome.Retrying, WebhookOutcome.Failed], attempts.Select(a => a.Outcome));
        Assert.All(attempts, a => Assert.Equal(503, a.HttpStatus));
        Assert.Null(attempts[^1].NextAttemptAt);
        Assert.Null(await host.Outbox.NextDueAsync());
        Assert.Equal(3, receiver.Received.Count);
        Assert.Equal(1, metrics.Of(WebhookEvents.Started, "failed"));
    }

    [Fact]
    public async Task Gone_stops_the_retries_at_once()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 410, 200);
        await using var host = await WebhookDispatcherHost.StartAsync();
        await host.Dispatcher.EnqueueAsync(Delivery("ed_gone", receiver.Url));

        var attempt = Assert.Single(await host.FinalAttemptsAsync("ed_gone"));
        Assert.Equal((410, WebhookOutcome.Failed), (attempt.HttpStatus, attempt.Outcome));
        Assert.Null(await host.Outbox.NextDueAsync());
        Assert.Single(receiver.Received);
    }

    [Fact]
    public async Task No_attempt_is_scheduled_past_the_retry_window()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 500);
        await using var host = await WebhookDispatcherHost.StartAsync(settings =>
        {
            settings["Webhooks:MaxAttempts"] = "100";
            settings["Webhooks:InitialBackoff"] = "00:00:00.100";
            settings["Webhooks:RetryWindow"] = "00:00:00.300";
        });
        await host.Dispatcher.EnqueueAsync(Delivery("ed_window", receiver.Url));
        var enqueued = DateTimeOffset.UtcNow; // no earlier than the dispatcher's own enqueue time

        var attempts = await host.FinalAttemptsAsync("ed_window");

        Assert.Equal(WebhookOutcome.Failed, attempts[^1].Outcome);
        Assert.InRange(attempts.Count, 1, 4);
        Assert.All(attempts.Where(a => a.NextAttemptAt is not null), a => Assert.True(a.NextAttemptAt <= enqueued.AddMilliseconds(300)));
    }

    [Fact]
    public async Task A_receiver_that_does_not_answer_in_time_is_tried_again()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, async (number, aborted) =>
        {
            if (number == 1) await Task.Delay(TimeSpan.FromSeconds(30), aborted);
            return 204;
        });
        await using var host = await WebhookDispatcherHost.StartAsync(settings => settings["Webhooks:Timeout"] = "00:00:00.300");
        await host.Dispatcher.EnqueueAsync(Delivery("ed_slow", receiver.Url));

        var attempts = await host.FinalAttemptsAsync("ed_slow");

        Assert.Equal([WebhookOutcome.Retrying, WebhookOutcome.Delivered], attempts.Select(a => a.Outcome));
        Assert.Null(attempts[0].HttpStatus);
        Assert.Equal("No answer within 0.3 s.", attempts[0].Error);
        Assert.InRange(attempts[0].DurationMs, 250, 5000);
        Assert.Equal(204, attempts[1].HttpStatus);
    }

    [Fact]
    public async Task Stopping_mid_attempt_hands_the_delivery_back_unattempted()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, async (_, aborted) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), aborted);
            return 200;
        });
        var host = await WebhookDispatcherHost.StartAsync();
        var outbox = host.Outbox;
        await host.Dispatcher.EnqueueAsync(Delivery("ed_stop", receiver.Url));
        await Poll.UntilAsync(() => receiver.Received.Count == 1, "the receiver's first request never came");

        await host.DisposeAsync();

        Assert.Empty(await outbox.AttemptsAsync("ed_stop"));
        var pending = Assert.Single(await outbox.TakeDueAsync(DateTimeOffset.UtcNow, 10));
        Assert.Equal(("ed_stop", 0), (pending.Delivery.JobId, pending.AttemptsMade));
    }

    [Fact]
    public async Task Without_private_networks_a_delivery_to_the_local_network_is_refused_and_nothing_is_sent()
    {
        using var metrics = new AttemptCounts();
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200);
        await using var host = await WebhookDispatcherHost.StartAsync(settings => settings.Remove("Webhooks:AllowPrivateNetworks"));
        var port = receiver.Url.Port;
        string[] targets =
        [
            receiver.Url.ToString(),
            $"http://localhost:{port}/hooks/edits",
            $"http://[::1]:{port}/hooks/edits",
            $"http://[::ffff:127.0.0.1]:{port}/hooks/edits",
            "http://10.20.30.40/hooks/edits",
            "http://169.254.169.254/latest/meta-data/",
        ];
        for (var i = 0; i < targets.Length; i++)
            await host.Dispatcher.EnqueueAsync(new WebhookDelivery($"ed_ssrf{i}", targets[i], WebhookEvents.Completed, "{}"u8.ToArray()));

        for (var i = 0; i < targets.Length; i++)
        {
            var attempt = Assert.Single(await host.FinalAttemptsAsync($"ed_ssrf{i}"));
            Assert.Equal(WebhookOutcome.Refused, attempt.Outcome);
            Assert.Null(attempt.HttpStatus);
            Assert.Null(attempt.NextAttemptAt);
            Assert.Contains("Webhooks:AllowPrivateNetworks", attempt.Error);
        }
        Assert.Empty(receiver.Received);
        Assert.Equal(targets.Length, metrics.Of(WebhookEvents.Completed, "refused"));
    }

    [Fact]
    public async Task With_private_networks_allowed_localhost_is_delivered_to()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200);
        await using var host = await WebhookDispatcherHost.StartAsync();
        var url = new UriBuilder(receiver.Url) { Host = "localhost" }.Uri;
        await host.Dispatcher.EnqueueAsync(Delivery("ed_local", url));

        Assert.Equal(WebhookOutcome.Delivered, Assert.Single(await host.FinalAttemptsAsync("ed_local")).Outcome);
        Assert.True(Assert.Single(receiver.Received).SignatureValid);
    }

    [Fact]
    public async Task The_same_event_of_a_job_is_delivered_once_and_each_event_on_its_own()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret, 200);
        await using var host = await WebhookDispatcherHost.StartAsync();

        Assert.True(await host.Dispatcher.EnqueueAsync(Delivery("ed_twice", receiver.Url, WebhookEvents.Started)));
        Assert.True(await host.Dispatcher.EnqueueAsync(Delivery("ed_twice", receiver.Url)));
        Assert.False(await host.Dispatcher.EnqueueAsync(Delivery("ed_twice", receiver.Url)));

        var attempts = await host.AttemptsWhenAsync("ed_twice", attempts => attempts.Count(a => a.Outcome == WebhookOutcome.Delivered) == 2);
        Assert.Equal([WebhookEvents.Completed, WebhookEvents.Started], attempts.Select(a => a.Event).Order());
        Assert.Equal(["msg_ed_twice_completed", "msg_ed_twice_started"], receiver.Received.Select(webhook => webhook.Id!).Order());
    }

    [Fact]
    public async Task While_webhooks_are_off_nothing_can_be_enqueued()
    {
        await using var host = await WebhookDispatcherHost.StartAsync(settings => settings.Remove("Webhooks:Secret"));
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await host.Dispatcher.EnqueueAsync(new WebhookDelivery("ed_off", "https://example.com/hooks", WebhookEvents.Completed, [])));
    }

    /// <summary>The <c>ra.webhook.attempts</c> measurements made while it lives, by event and outcome.</summary>
    sealed class AttemptCounts : IDisposable
    {
        readonly MeterListener _listener = new();
        readonly ConcurrentDictionary<(string?, string?), long> _counts = new();

        public AttemptCounts()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ServiceTelemetry.Name && instrument.Name == WebhookDispatcher.AttemptsInstrument)
                    listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                var all = tags.ToArray();
                string? Tag(string name) => all.FirstOrDefault(tag => tag.Key == name).Value as string;
                _counts.AddOrUpdate((Tag("event"), Tag("outcome")), value, (_, total) => total + value);
            });
            _listener.Start();
        }

        public long Of(string webhookEvent, string outcome) => _counts.GetValueOrDefault((webhookEvent, outcome));

        public void Dispose() => _listener.Dispose();
    }
}
