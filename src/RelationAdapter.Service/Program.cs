using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Endpoints;
using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;
using Swashbuckle.AspNetCore.SwaggerGen;
using RelationAdapter.Service.Http;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.Services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<QueueOptions>().BindConfiguration(QueueOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<RelationCacheOptions>().BindConfiguration(RelationCacheOptions.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section);

if (HostingConventions.DefaultUrl(builder.Configuration) is { } localUrl) builder.WebHost.UseUrls(localUrl);

var limits = builder.Configuration.GetSection(LimitsOptions.Section).Get<LimitsOptions>() ?? new LimitsOptions();
var queueSettings = builder.Configuration.GetSection(QueueOptions.Section).Get<QueueOptions>() ?? new QueueOptions();
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBytes);
builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = limits.MaxRequestBytes);
builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = queueSettings.ShutdownGracePeriod + TimeSpan.FromSeconds(5));

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<ServiceTelemetry>();
builder.Services.AddSingleton<ModelHost>();
builder.Services.AddSingleton<JobStore>();
builder.Services.AddSingleton<JobQueue>();
builder.Services.AddSingleton<RelationCache>();
builder.Services.AddSingleton<RelationEncoder>();
builder.Services.AddSingleton<ImageAdmission>();
builder.Services.AddSingleton<InferenceWorker>();
builder.Services.AddHostedService(services => services.GetRequiredService<InferenceWorker>());
builder.Services.AddSingleton<ApiKeyFilter>();

builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = Problems.WithStableType);
builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
builder.Services.ConfigureHttpJsonOptions(json =>
{
    json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
});
// The OpenAPI schemas must describe what the endpoints serialize: the same options, not MVC's.
builder.Services.AddSingleton<ISerializerDataContractResolver>(services =>
    new JsonSerializerDataContractResolver(services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions));

builder.Services.AddEndpointsApiExplorer();
builder.Services.AddSwaggerGen(swagger =>
{
    swagger.SwaggerDoc("v1", new OpenApiInfo
    {
        Title = "RelationAdapter.Service",
        Version = "v1",
        Description = "Edit images by example: an exemplar pair (before, after) shows an edit; the service applies it to a source image " +
                      "(RelationAdapter on FLUX.1-dev). Errors are RFC 9457 problem details (application/problem+json) whose 'type' is one of: " +
                      string.Join(", ", Problems.AllTypes) + ".",
    });
    swagger.AddSecurityDefinition(OpenApiContract.BearerScheme, OpenApiContract.Bearer);
    swagger.OperationFilter<OpenApiContract>();
    swagger.DocumentFilter<OpenApiContract>();
    swagger.UseAllOfToExtendReferenceSchemas();
    swagger.SupportNonNullableReferenceTypes();
    swagger.NonNullableReferenceTypesAsRequired();
    var xml = Path.Combine(AppContext.BaseDirectory, "RelationAdapter.Service.xml");
    if (File.Exists(xml)) swagger.IncludeXmlComments(xml);
});

// OpenTelemetry:Otlp:Endpoint, else the SDK's own OTEL_EXPORTER_OTLP_* variables; OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES name the resource as the SDK documents.
var otlp = (builder.Configuration.GetSection(OtlpOptions.Section).Get<OtlpOptions>() ?? new OtlpOptions()).EndpointUri;
var otlpFromEnvironment = otlp is null && !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
builder.Services.AddOpenTelemetry()
    .ConfigureResource(resource => resource.AddService(builder.Configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : "relation-adapter-service"))
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

var app = builder.Build();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseHeadAsGet();
app.UseRouting(); // after HEAD became GET, so GET routes match it
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseSwagger();
app.UseSwaggerUI();

app.MapHealth();
app.MapPrometheusScrapingEndpoint("/metrics");
app.MapGroup("/v1").AddEndpointFilter<ApiKeyFilter>().MapEdits().MapRelations();

if (OpenApiExport.Requested(args, out var exportPath))
{
    await OpenApiExport.WriteAsync(app, exportPath);
    return;
}

app.Run();

/// <summary>The entry point (public for WebApplicationFactory).</summary>
public partial class Program;
