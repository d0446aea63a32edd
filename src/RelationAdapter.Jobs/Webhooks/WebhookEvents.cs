using System.Diagnostics.CodeAnalysis;

namespace RelationAdapter.Jobs.Webhooks;

/// <summary>The moments of a job a webhook can be told about (Replicate's names).</summary>
public static class WebhookEvents
{
    public const string Started = "started";
    public const string Completed = "completed";

    /// <summary>Every event, in the order a job goes through them.</summary>
    public static IReadOnlyList<string> All { get; } = [Started, Completed];
}

/// <summary>The events a request asked to be told about (<c>webhook_events_filter</c>).</summary>
public sealed class WebhookEventFilter
{
    /// <summary>What a request that names no events gets: only the outcome, as Replicate does.</summary>
    public static WebhookEventFilter Default { get; } = new([WebhookEvents.Completed]);

    /// <summary>The events asked for, in the order of <see cref="WebhookEvents.All"/>.</summary>
    public IReadOnlyList<string> Events { get; }

    WebhookEventFilter(IEnumerable<string> events) =>
        Events = WebhookEvents.All.Where(events.Contains).ToArray();

    public bool Includes(string webhookEvent) => Events.Contains(webhookEvent);

    /// <summary>The comma-separated form, which <see cref="TryParse"/> reads back.</summary>
    public override string ToString() => string.Join(',', Events);

    /// <summary>
    /// Reads the values of <c>webhook_events_filter</c>: the field repeated, comma-separated names, or both.
    /// Names are lower-case as sent in the headers and bodies; no values, or only blank ones, mean <see cref="Default"/>.
    /// </summary>
    public static bool TryParse(IEnumerable<string?>? values, [NotNullWhen(true)] out WebhookEventFilter? filter, [NotNullWhen(false)] out string? error)
    {
        var names = (values ?? [])
            .SelectMany(value => (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .ToList();
        var unknown = names.Where(name => !WebhookEvents.All.Contains(name)).Distinct().ToList();
        if (unknown.Count > 0)
        {
            filter = null;
            error = $"Unknown webhook event{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(Quote))}; " +
                    $"expected any of {string.Join(", ", WebhookEvents.All)}.";
            return false;
        }
        filter = names.Count == 0 ? Default : new WebhookEventFilter(names);
        error = null;
        return true;
    }

    // The message goes back to the client: a long value is cut rather than echoed whole.
    static string Quote(string name) => name.Length <= 32 ? $"'{name}'" : $"'{name[..32]}…'";
}
