using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Webhooks;

public static class WebhooksRegistration
{
    /// <summary>
    /// The "Webhooks" options (validated on start), the guarded HTTP client (over the backend's <see cref="IWebhookOutbox"/>) and the dispatcher, which is also a hosted service.
    /// </summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddOptions<WebhooksOptions>().BindConfiguration(WebhooksOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
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

    /// <summary>Signed webhooks for the jobs that ask for them (the "Webhooks" section): the dispatcher and the job observer that feeds it.</summary>
    public static IServiceCollection AddWebhookNotifications(this IServiceCollection services)
    {
        services.AddWebhooks();
        services.AddSingleton<IJobObserver, WebhookNotifier>();
        return services;
    }
}
