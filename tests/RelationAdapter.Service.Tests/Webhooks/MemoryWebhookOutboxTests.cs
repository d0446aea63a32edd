using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Tests.Webhooks;

[Trait("Category", "Unit")]
public class MemoryWebhookOutboxTests
{
    static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    static WebhookDelivery Delivery(string jobId, string webhookEvent = WebhookEvents.Completed) =>
        new(jobId, "https://example.com/hooks", webhookEvent, "{}"u8.ToArray());

    static WebhookAttempt Attempt(PendingWebhook pending, WebhookOutcome outcome, DateTimeOffset at, DateTimeOffset? next = null) =>
        new(pending.Delivery.Id, pending.Delivery.Event, pending.AttemptsMade + 1, at, 500, null, 1, outcome, next);

    [Fact]
    public async Task A_delivery_is_added_once_and_its_id_follows_from_job_and_event()
    {
        var outbox = new MemoryWebhookOutbox();
        Assert.Equal("msg_ed_1_completed", Delivery("ed_1").Id);
        Assert.True(await outbox.AddAsync(Delivery("ed_1"), T0));
        Assert.False(await outbox.AddAsync(Delivery("ed_1"), T0));
        Assert.True(await outbox.AddAsync(Delivery("ed_1", WebhookEvents.Started), T0));
    }

    [Fact]
    public async Task A_claimed_delivery_is_handed_out_once_until_its_attempt_is_recorded()
    {
        var outbox = new MemoryWebhookOutbox();
        await outbox.AddAsync(Delivery("ed_1"), T0);
        var pending = Assert.Single(await outbox.TakeDueAsync(T0, 10));
        Assert.Equal(0, pending.AttemptsMade);
        Assert.Equal(T0, pending.EnqueuedAt);
        Assert.Empty(await outbox.TakeDueAsync(T0, 10));
        Assert.Null(await outbox.NextDueAsync());

        await outbox.CompleteAttemptAsync(pending, Attempt(pending, WebhookOutcome.Retrying, T0, T0.AddSeconds(2)));
        Assert.Equal(T0.AddSeconds(2), await outbox.NextDueAsync());
        Assert.Empty(await outbox.TakeDueAsync(T0.AddSeconds(1), 10));
        var again = Assert.Single(await outbox.TakeDueAsync(T0.AddSeconds(2), 10));
        Assert.Equal(1, again.AttemptsMade);
        Assert.Equal(T0, again.EnqueuedAt);

        await outbox.CompleteAttemptAsync(again, Attempt(again, WebhookOutcome.Delivered, T0.AddSeconds(2)));
        Assert.Null(await outbox.NextDueAsync());
        Assert.Equal([1, 2], (await outbox.AttemptsAsync("ed_1")).Select(a => a.Number));
        // Made once, never again: a second "completed" for the job is not a second webhook.
        Assert.False(await outbox.AddAsync(Delivery("ed_1"), T0.AddSeconds(3)));
    }

    [Fact]
    public async Task Due_deliveries_come_earliest_first_up_to_the_maximum()
    {
        var outbox = new MemoryWebhookOutbox();
        for (var i = 3; i >= 1; i--) await outbox.AddAsync(Delivery($"ed_{i}"), T0.AddSeconds(i));
        Assert.Equal(["ed_1", "ed_2"], (await outbox.TakeDueAsync(T0.AddSeconds(10), 2)).Select(p => p.Delivery.JobId));
        Assert.Equal(["ed_3"], (await outbox.TakeDueAsync(T0.AddSeconds(10), 2)).Select(p => p.Delivery.JobId));
    }

    [Fact]
    public async Task A_released_delivery_is_due_again_with_no_attempt_counted()
    {
        var outbox = new MemoryWebhookOutbox();
        await outbox.AddAsync(Delivery("ed_1"), T0);
        await outbox.ReleaseAsync(Assert.Single(await outbox.TakeDueAsync(T0, 1)));
        Assert.Equal(0, Assert.Single(await outbox.TakeDueAsync(T0, 1)).AttemptsMade);
        Assert.Empty(await outbox.AttemptsAsync("ed_1"));
    }

    [Fact]
    public async Task Forgetting_a_job_drops_its_attempts_and_pending_deliveries()
    {
        var outbox = new MemoryWebhookOutbox();
        await outbox.AddAsync(Delivery("ed_1", WebhookEvents.Started), T0);
        var started = Assert.Single(await outbox.TakeDueAsync(T0, 1));
        await outbox.CompleteAttemptAsync(started, Attempt(started, WebhookOutcome.Delivered, T0));
        await outbox.AddAsync(Delivery("ed_1"), T0);
        await outbox.ForgetJobAsync("ed_1");
        Assert.Empty(await outbox.AttemptsAsync("ed_1"));
        Assert.Empty(await outbox.TakeDueAsync(T0, 10));
    }

    [Fact]
    public async Task Past_its_bound_it_forgets_the_oldest_finished_jobs_but_never_a_pending_delivery()
    {
        var outbox = new MemoryWebhookOutbox(maxJobs: 2);
        await outbox.AddAsync(Delivery("pending"), T0.AddHours(1));
        foreach (var job in new[] { "ed_1", "ed_2", "ed_3" })
        {
            await outbox.AddAsync(Delivery(job), T0);
            var pending = (await outbox.TakeDueAsync(T0, 10)).Single(p => p.Delivery.JobId == job);
            await outbox.CompleteAttemptAsync(pending, Attempt(pending, WebhookOutcome.Failed, T0));
        }
        Assert.Empty(await outbox.AttemptsAsync("ed_1"));
        Assert.Empty(await outbox.AttemptsAsync("ed_2"));
        Assert.Single(await outbox.AttemptsAsync("ed_3"));
        Assert.Equal(T0.AddHours(1), await outbox.NextDueAsync());
    }
}
