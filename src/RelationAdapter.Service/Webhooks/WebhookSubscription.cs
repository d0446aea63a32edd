using System.Diagnostics.CodeAnalysis;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Webhooks;

/// <summary>A request's field that asked for a webhook wrongly, and why (for a validation problem).</summary>
public sealed record WebhookFieldError(string Field, string Message);

/// <summary>Where a job's webhooks go and which events they tell about, as a request asked.</summary>
public sealed record WebhookSubscription(string Url, WebhookEventFilter Events)
{
    public const string UrlField = "webhook";
    public const string EventsFilterField = "webhook_events_filter";

    public bool Wants(string webhookEvent) => Events.Includes(webhookEvent);

    /// <summary>
    /// Reads the form fields <c>webhook</c> and <c>webhook_events_filter</c> (every value the field was sent with).
    /// True with a null subscription when neither was sent. A webhook is refused while webhooks are off
    /// (<see cref="WebhooksOptions.Enabled"/>): accepted, it would never be called; a filter without a webhook is
    /// refused rather than silently ignored.
    /// </summary>
    public static bool TryRead(string? url, IEnumerable<string?>? eventsFilter, WebhooksOptions options,
        out WebhookSubscription? subscription, [NotNullWhen(false)] out WebhookFieldError? error)
    {
        subscription = null;
        var filterValues = (eventsFilter ?? []).Where(value => !string.IsNullOrWhiteSpace(value)).ToList();
        if (string.IsNullOrWhiteSpace(url))
        {
            error = filterValues.Count > 0 ? new(EventsFilterField, $"{EventsFilterField} was sent without {UrlField}.") : null;
            return error is null;
        }
        if (!options.Enabled)
        {
            error = new(UrlField, "This server sends no webhooks.");
            return false;
        }
        if (WebhookTargets.Refusal(url, options.AllowPrivateNetworks) is { } refusal)
        {
            error = new(UrlField, refusal);
            return false;
        }
        if (!WebhookEventFilter.TryParse(filterValues, out var events, out var filterError))
        {
            error = new(EventsFilterField, filterError);
            return false;
        }
        subscription = new WebhookSubscription(url.Trim(), events);
        error = null;
        return true;
    }
}
