namespace RelationAdapter.Jobs.Webhooks;

/// <summary>
/// The deliveries waiting to be made and the attempts made so far. The dispatcher only talks to this, so a shared
/// backend (Redis: a sorted set of due times, a hash per delivery, claims that lapse when a replica dies) keeps
/// deliveries across restarts and lets any replica make them, with no change to the dispatcher.
/// </summary>
public interface IWebhookOutbox
{
    /// <summary>Adds a delivery, due at once; false when one with its id is pending or was already made.</summary>
    ValueTask<bool> AddAsync(WebhookDelivery delivery, DateTimeOffset now, CancellationToken cancellation = default);

    /// <summary>
    /// Claims up to <paramref name="max"/> deliveries due by <paramref name="now"/>, earliest first. A claimed delivery
    /// is not handed out again until <see cref="CompleteAttemptAsync"/> or <see cref="ReleaseAsync"/> (a shared
    /// backend also takes it back when its claim lapses, so a replica that dies mid-attempt loses nothing).
    /// </summary>
    ValueTask<IReadOnlyList<PendingWebhook>> TakeDueAsync(DateTimeOffset now, int max, CancellationToken cancellation = default);

    /// <summary>When the earliest unclaimed delivery is due; null when none is waiting.</summary>
    ValueTask<DateTimeOffset?> NextDueAsync(CancellationToken cancellation = default);

    /// <summary>
    /// Records an attempt of a claimed delivery and, in the same step, ends the claim: the delivery is due again at
    /// <see cref="WebhookAttempt.NextAttemptAt"/>, or leaves the outbox when that is null.
    /// </summary>
    ValueTask CompleteAttemptAsync(PendingWebhook pending, WebhookAttempt attempt, CancellationToken cancellation = default);

    /// <summary>Hands a claimed delivery back unattempted (the service is stopping), due at once.</summary>
    ValueTask ReleaseAsync(PendingWebhook pending, CancellationToken cancellation = default);

    /// <summary>Every attempt made for a job's webhooks, oldest first.</summary>
    ValueTask<IReadOnlyList<WebhookAttempt>> AttemptsAsync(string jobId, CancellationToken cancellation = default);

    /// <summary>Drops a job's attempts and any delivery still pending (the job itself is gone).</summary>
    ValueTask ForgetJobAsync(string jobId, CancellationToken cancellation = default);
}
