using RelationAdapter.Service.Http;

namespace RelationAdapter.Service.Endpoints;

public static class EndpointsRegistration
{
    /// <summary>Probes, the Prometheus scrape and the v1 API (behind the API-key filter).</summary>
    public static WebApplication MapServiceEndpoints(this WebApplication app)
    {
        app.MapHealth();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGroup("/v1").AddEndpointFilter<ApiKeyFilter>().MapEdits().MapRelations();
        return app;
    }
}
