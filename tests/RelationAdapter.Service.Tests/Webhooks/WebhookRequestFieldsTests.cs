using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Tests.Webhooks;

/// <summary>The form fields <c>webhook</c> and <c>webhook_events_filter</c>, as a request sends them.</summary>
[Trait("Category", "Unit")]
public class WebhookRequestFieldsTests
{
    static readonly WebhooksOptions Enabled = new() { Secret = WebhookDispatcherHost.Secret };

    [Theory]
    [InlineData(new string[0], "completed")]
    [InlineData(new[] { "" }, "completed")]
    [InlineData(new[] { "started" }, "started")]
    [InlineData(new[] { "completed" }, "completed")]
    [InlineData(new[] { "started", "completed" }, "started,completed")]
    [InlineData(new[] { "completed,started" }, "started,completed")]
    [InlineData(new[] { " started , completed ", "completed" }, "started,completed")]
    public void The_events_filter_takes_repeated_and_comma_separated_names(string[] values, string expected)
    {
        Assert.True(WebhookEventFilter.TryParse(values, out var filter, out _));
        Assert.Equal(expected, filter.ToString());
        Assert.True(WebhookEventFilter.TryParse([filter.ToString()], out var again, out _));
        Assert.Equal(filter.Events, again.Events);
    }

    [Theory]
    [InlineData("Started", "'Started'")]
    [InlineData("completed,output", "'output'")]
    [InlineData("logs,start", "'logs', 'start'")]
    public void The_events_filter_refuses_unknown_names_and_lists_the_known_ones(string value, string named)
    {
        Assert.False(WebhookEventFilter.TryParse([value], out _, out var error));
        Assert.Contains(named, error);
        Assert.Contains("started, completed", error);
    }

    [Fact]
    public void No_webhook_fields_ask_for_nothing()
    {
        Assert.True(WebhookSubscription.TryRead(null, null, Enabled, out var subscription, out _));
        Assert.Null(subscription);
        Assert.True(WebhookSubscription.TryRead("", [""], new WebhooksOptions(), out subscription, out _));
        Assert.Null(subscription);
    }

    [Fact]
    public void A_webhook_defaults_to_the_completed_event()
    {
        Assert.True(WebhookSubscription.TryRead(" https://example.com/hooks ", null, Enabled, out var subscription, out _));
        Assert.Equal("https://example.com/hooks", subscription!.Url);
        Assert.True(subscription.Wants(WebhookEvents.Completed));
        Assert.False(subscription.Wants(WebhookEvents.Started));
    }

    [Theory]
    [InlineData("https://example.com/hooks", "started", null, WebhookSubscription.UrlField)]
    [InlineData("ftp://example.com/hooks", null, WebhookDispatcherHost.Secret, WebhookSubscription.UrlField)]
    [InlineData("http://169.254.169.254/", null, WebhookDispatcherHost.Secret, WebhookSubscription.UrlField)]
    [InlineData("https://example.com/hooks", "finished", WebhookDispatcherHost.Secret, WebhookSubscription.EventsFilterField)]
    [InlineData(null, "started", WebhookDispatcherHost.Secret, WebhookSubscription.EventsFilterField)]
    public void A_wrong_webhook_field_is_named(string? url, string? filter, string? secret, string field)
    {
        Assert.False(WebhookSubscription.TryRead(url, [filter], new WebhooksOptions { Secret = secret }, out var subscription, out var error));
        Assert.Null(subscription);
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public void Private_targets_pass_when_private_networks_are_allowed() =>
        Assert.True(WebhookSubscription.TryRead("http://localhost:8080/hooks", ["started,completed"],
            new WebhooksOptions { Secret = WebhookDispatcherHost.Secret, AllowPrivateNetworks = true }, out _, out _));
}
