using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Tests.Webhooks;

/// <summary>The "Webhooks" section, validated as the service validates it on start.</summary>
[Trait("Category", "Unit")]
public class WebhooksOptionsTests
{
    static WebhooksOptions Validated(Dictionary<string, string?> settings)
    {
        using var services = WebhookDispatcherHost.Build(settings);
        services.GetRequiredService<IStartupValidator>().Validate();
        return services.GetRequiredService<IOptions<WebhooksOptions>>().Value;
    }

    [Fact]
    public void Defaults_are_off_with_bounded_retries()
    {
        var options = Validated([]);
        Assert.False(options.Enabled);
        Assert.False(options.AllowPrivateNetworks);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(1), options.InitialBackoff);
        Assert.Equal(TimeSpan.FromSeconds(60), options.MaxBackoff);
        Assert.Equal(TimeSpan.FromMinutes(10), options.RetryWindow);
        Assert.Equal(8, options.MaxAttempts);
    }

    [Theory]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    [InlineData(WebhookDispatcherHost.Secret)]
    public void A_whsec_secret_of_24_bytes_or_more_turns_webhooks_on(string secret) =>
        Assert.True(Validated(new() { ["Webhooks:Secret"] = secret }).Enabled);

    [Theory]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_")]
    [InlineData("whsec_%%%not-base64%%%", "base64")]
    [InlineData("whsec_c2hvcnQtc2VjcmV0", "decodes to 12 bytes")]
    [InlineData("whsec_", "decodes to 0 bytes")]
    public void A_malformed_secret_stops_the_start(string secret, string reason)
    {
        var refused = Assert.Throws<OptionsValidationException>(() => Validated(new() { ["Webhooks:Secret"] = secret }));
        Assert.Contains("Webhooks:Secret", refused.Message);
        Assert.Contains(reason, refused.Message);
    }

    [Theory]
    [InlineData("Webhooks:MaxAttempts", "0")]
    [InlineData("Webhooks:Timeout", "00:00:00")]
    [InlineData("Webhooks:RetryWindow", "30.00:00:00")]
    [InlineData("Webhooks:InitialBackoff", "00:02:00")]
    [InlineData("Webhooks:ConcurrentDeliveries", "0")]
    public void Out_of_range_settings_stop_the_start(string key, string value) =>
        Assert.Throws<OptionsValidationException>(() => Validated(new() { [key] = value }));
}
