using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Platform;

public static class TelemetryRegistration
{
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// Traces and metrics, scraped at /metrics and exported over OTLP to OpenTelemetry:Otlp:Endpoint, else to
    /// the SDK's own OTEL_EXPORTER_OTLP_* variables; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the
    /// resource as the SDK documents.
    /// </summary>
    public static IHostApplicationBuilder AddServiceTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ServiceTelemetry>();
        var otlp = builder.Configuration.ReadSection<OtlpOptions>(OtlpOptions.Section).EndpointUri;
        var otlpFromEnvironment = otlp is null && !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "relation-adapter-service";
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource(ServiceTelemetry.Name).AddAspNetCoreInstrumentation();
                if (otlp is not null) tracing.AddOtlpExporter(exporter => exporter.Endpoint = otlp);
                else if (otlpFromEnvironment) tracing.AddOtlpExporter();
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(ServiceTelemetry.Name).AddAspNetCoreInstrumentation()
                    .AddView("ra.job.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600] })
                    .AddView("ra.step.duration", new ExplicitBucketHistogramConfiguration { Boundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10] })
                    .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
                if (otlp is not null) metrics.AddOtlpExporter(exporter => exporter.Endpoint = otlp);
                else if (otlpFromEnvironment) metrics.AddOtlpExporter();
            });
        return builder;
    }

    /// <summary>
    /// The Prometheus scrape at <see cref="MetricsPath"/>: on the management port alone when <c>Management:Port</c>
    /// is set (its labels name API keys; 404 on the main port), else on the one port there is.
    /// </summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app)
    {
        var scrape = app.MapPrometheusScrapingEndpoint(MetricsPath);
        if (app.ServiceProvider.GetRequiredService<IOptions<ManagementOptions>>().Value.Port is { } port)
            scrape.Add(endpoint =>
            {
                var serve = endpoint.RequestDelegate!;
                // The local port, not the Host header, which any client may set.
                endpoint.RequestDelegate = http =>
                {
                    if (http.Connection.LocalPort == port) return serve(http);
                    http.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                };
            });
        return app;
    }
}
