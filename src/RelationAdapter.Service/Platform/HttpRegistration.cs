using Microsoft.AspNetCore.HttpOverrides;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

public static class HttpRegistration
{
    /// <summary>
    /// Where the server listens (see <see cref="HostingConventions.DefaultUrl"/>, <see cref="ManagementPort"/>), the
    /// body limits it enforces and how it stops (<see cref="ShutdownDrain"/>).
    /// </summary>
    public static WebApplicationBuilder AddHttpServer(this WebApplicationBuilder builder)
    {
        if (HostingConventions.DefaultUrl(builder.Configuration) is { } localUrl) builder.WebHost.UseUrls(localUrl);
        builder.ListenOnManagementPort();
        builder.Services.AddSingleton<ShutdownDrain>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<ShutdownDrain>());
        // Read before the container is built, so straight from configuration.
        var limits = builder.Configuration.ReadSection<LimitsOptions>(LimitsOptions.Section);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = limits.MaxRequestBytes;
            kestrel.Limits.MaxRequestLineSize = HostingConventions.KestrelRequestLine;
            kestrel.Limits.MaxRequestHeadersTotalSize = HostingConventions.KestrelHeaders;
        });
        builder.Services.Configure<FormOptions>(form => form.MultipartBodyLengthLimit = limits.MaxRequestBytes);
        return builder;
    }

    /// <summary>The HTTP contract: snake_case JSON, problem details with stable types, upload admission, API keys, the OpenAPI document.</summary>
    public static IServiceCollection AddHttpContract(this IServiceCollection services)
    {
        services.AddSingleton<ImageAdmission>();
        services.AddSingleton<UploadAdmission>();
        services.AddSingleton<RemoteImages>();
        services.AddSingleton<ResultLinks>();
        services.AddSingleton<ApiKeyFilter>();
        services.AddSingleton<ShutdownDrainFilter>();
        services.AddProblemDetails(problems => problems.CustomizeProblemDetails = Problems.WithStableType);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        });
        // The OpenAPI schemas must describe what the endpoints serialize: the same options, not MVC's.
        services.AddSingleton<ISerializerDataContractResolver>(provider =>
            new JsonSerializerDataContractResolver(provider.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions));
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(swagger =>
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
        return services;
    }

    /// <summary>
    /// Behind the proxies of <see cref="ServiceOptions.TrustedProxies"/>, the request's scheme, host and client address are
    /// the forwarded ones (result links are made from them); anyone else's forwarded headers are ignored.
    /// </summary>
    static void UseTrustedProxies(this WebApplication app)
    {
        var proxies = app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.TrustedProxies;
        if (proxies.Count == 0) return;
        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost,
        };
        forwarded.KnownIPNetworks.Clear();
        forwarded.KnownProxies.Clear();
        foreach (var proxy in proxies)
            forwarded.KnownIPNetworks.Add(proxy.Contains('/') ? System.Net.IPNetwork.Parse(proxy) : new System.Net.IPNetwork(System.Net.IPAddress.Parse(proxy),
                System.Net.IPAddress.Parse(proxy).AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32));
        app.UseForwardedHeaders(forwarded);
    }

    /// <summary>Errors as problem details (oversized request heads too), HEAD as GET, routing, the demo page and the OpenAPI UI.</summary>
    public static WebApplication UseHttpConventions(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseTrustedProxies();
        app.UseStatusCodePages();
        app.UseRequestHeadLimits();
        app.UseHeadAsGet();
        app.UseRouting(); // after HEAD became GET, so GET routes match it
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseSwagger();
        app.UseSwaggerUI();
        return app;
    }
}
