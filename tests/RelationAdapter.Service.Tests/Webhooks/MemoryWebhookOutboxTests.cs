using RelationAdapter.Jobs.Webhooks;

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
