using Microsoft.Extensions.Options;
using RelationAdapter.Service.Http;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Endpoints;

public static class EndpointsRegistration
{
    /// <summary>Signed webhooks for the jobs that ask for them (the "Webhooks" section).</summary>
    public static IServiceCollection AddWebhookNotifications(this IServiceCollection services)
    {
        services.AddWebhooks();
        services.AddSingleton<IJobObserver, WebhookNotifier>();
        return services;
    }

    /// <summary>The configured limits in the OpenAPI document (<see cref="LimitsDocumentation"/>).</summary>
    public static IServiceCollection AddLimitsDocumentation(this IServiceCollection services)
    {
        services.ConfigureSwaggerGen(swagger =>
        {
            swagger.SchemaFilter<LimitsDocumentation>();
            swagger.OperationFilter<LimitsDocumentation>();
        });
        return services;
    }

    /// <summary>Probes, the Prometheus scrape and, unless this replica is only a worker, the v1 API (behind the shutdown drain and the API-key filter).</summary>
    public static WebApplication MapServiceEndpoints(this WebApplication app)
    {
        app.MapHealth();
        app.MapMetrics();
        if (app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.RunsApi)
            app.MapGroup("/v1").AddEndpointFilter<ShutdownDrainFilter>().AddEndpointFilter<ApiKeyFilter>().MapEdits().MapRelations();
        return app;
    }
}
