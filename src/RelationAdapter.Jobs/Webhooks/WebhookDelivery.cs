namespace RelationAdapter.Jobs.Webhooks;

/// <summary>
/// One event of one job, for one URL: the body is sent as it is on every attempt. The id, the <c>webhook-id</c>
/// header, follows from the job and the event, so it stays the same across retries and restarts and a receiver can
/// drop a repeat, and so the same event enqueued twice is delivered once.
/// </summary>
/// <param name="JobId">The job the event is of.</param>
/// <param name="Url">Where to POST it, as the service checked it (<c>WebhookTargets.Refusal</c>).</param>
/// <param name="Event">One of <see cref="WebhookEvents"/>.</param>
/// <param name="Body">The JSON sent (the job as clients see it, at the event); not copied, so not to be changed after.</param>
public sealed record WebhookDelivery(string JobId, string Url, string Event, byte[] Body)
{
    public string Id { get; init; } = IdFor(JobId, Event);

    public static string IdFor(string jobId, string webhookEvent) => $"msg_{jobId}_{webhookEvent}";
}

/// <summary>A delivery that is due, as the outbox hands it out: when it was enqueued and how many attempts it has had.</summary>
public sealed record PendingWebhook(WebhookDelivery Delivery, DateTimeOffset EnqueuedAt, int AttemptsMade);
