namespace RelationAdapter.Service.Platform;

/// <summary>Where traces and metrics are pushed over OTLP ("OpenTelemetry:Otlp" section); empty: not pushed.</summary>
public sealed class OtlpOptions
{
    public const string Section = "OpenTelemetry:Otlp";

    public string? Endpoint { get; set; }

    public Uri? EndpointUri => string.IsNullOrWhiteSpace(Endpoint) ? null : new Uri(Endpoint);
}
