using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using RelationAdapter.Core.Training;

namespace RelationAdapter.Train;

/// <summary>
/// The training metrics (<see cref="Trainer.MeterName"/>) exported over OTLP (http/protobuf) to <c>--otlp-endpoint</c>
/// or, without it, <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>; neither: nothing is exported.
/// </summary>
public static class TrainTelemetry
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
    static readonly TimeSpan ExportInterval = TimeSpan.FromSeconds(15);

    /// <summary>The base URL metrics go to (its <c>/v1/metrics</c> is posted to), or null for none.</summary>
    public static Uri? Endpoint(string? option)
    {
        var text = option ?? Environment.GetEnvironmentVariable(EndpointVariable);
        if (string.IsNullOrWhiteSpace(text)) return null;
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new ArgumentException($"{(option is null ? EndpointVariable : "--otlp-endpoint")} '{text}' is not an http(s) URL.");
    }

    /// <summary>Starts exporting to <paramref name="endpoint"/>; disposing the provider exports what is left.</summary>
    public static MeterProvider Start(Uri endpoint) => Sdk.CreateMeterProviderBuilder()
        .ConfigureResource(resource => resource.AddService("relation-adapter-train"))
        .AddMeter(Trainer.MeterName)
        .AddOtlpExporter((exporter, reader) =>
        {
            // The endpoint is the collector's base URL, as the variable means it; a signal's path is ours to add.
            exporter.Endpoint = new Uri(endpoint, endpoint.AbsolutePath.TrimEnd('/') + "/v1/metrics");
            exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)ExportInterval.TotalMilliseconds;
        })
        .Build();
}
