using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Webhooks;

public static class WebhooksRegistration
{
    /// <summary>
    /// The "Webhooks" options (validated on start), the outbox (in memory unless an <see cref="IWebhookOutbox"/> was
    /// registered before), the guarded HTTP client and the dispatcher, which is also a hosted service.
    /// </summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhooksOptions>().BindConfiguration(WebhooksOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IWebhookOutbox>(_ => new MemoryWebhookOutbox());
        services.AddHttpClient(WebhookDispatcher.HttpClientName)
            // The dispatcher times each attempt itself (on the TimeProvider); this would only cut in second.
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(provider =>
                WebhookConnections.CreateHandler(provider.GetRequiredService<IOptions<WebhooksOptions>>().Value.AllowPrivateNetworks))
            // The default handlers log each request's full URL, and webhook URLs often carry tokens.
            .RemoveAllLoggers();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(provider => provider.GetRequiredService<WebhookDispatcher>());
        return services;
    }
}
