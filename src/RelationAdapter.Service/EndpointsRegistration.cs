using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Service.Edits;
using RelationAdapter.Service.Platform;
using RelationAdapter.Service.Relations;

namespace RelationAdapter.Service;

public static class EndpointsRegistration
{
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
