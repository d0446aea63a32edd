namespace RelationAdapter.Jobs.Webhooks;

/// <summary>What came of one attempt.</summary>
public enum WebhookOutcome
{
    /// <summary>The receiver answered 2xx; the delivery is done.</summary>
    Delivered,
    /// <summary>It failed; another attempt is scheduled at <see cref="WebhookAttempt.NextAttemptAt"/>.</summary>
    Retrying,
    /// <summary>It failed and was the last: attempts or retry window used up, or the receiver answered 410 Gone.</summary>
    Failed,
    /// <summary>The target is one webhooks may not reach (or not a valid URL); never retried.</summary>
    Refused,
}

/// <summary>One POST to a webhook, as the job view lists it.</summary>
/// <param name="DeliveryId">The delivery's id, its <c>webhook-id</c>.</param>
/// <param name="Event">The event told about (<see cref="WebhookEvents"/>).</param>
/// <param name="Number">1 for the first attempt of the delivery.</param>
/// <param name="At">When the attempt began; its <c>webhook-timestamp</c>.</param>
/// <param name="HttpStatus">The receiver's status code; null when no answer came (refused, timed out, connection failed).</param>
/// <param name="Error">Why the attempt failed when the status does not say it; null otherwise.</param>
/// <param name="DurationMs">From the attempt's start to the receiver's status line, or to the failure.</param>
/// <param name="Outcome">What came of it.</param>
/// <param name="NextAttemptAt">When the delivery is tried again; null when this was the last attempt.</param>
public sealed record WebhookAttempt(
    string DeliveryId,
    string Event,
    int Number,
    DateTimeOffset At,
    int? HttpStatus,
    string? Error,
    double DurationMs,
    WebhookOutcome Outcome,
    DateTimeOffset? NextAttemptAt);
