using System.ComponentModel.DataAnnotations;
using RelationAdapter.Core.Pipeline;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// What a request may carry ("Limits" section): the one statement of every bound a request meets. The edit form's
/// parser enforces them and the OpenAPI document states them, both from these values; the fixed ranges are the
/// pipeline's (<see cref="EditSettings"/>), narrowed here by what is configured.
/// </summary>
public sealed class LimitsOptions : IValidatableObject
{
    public const string Section = "Limits";

    [Range(1024, long.MaxValue)]
    public long MaxRequestBytes { get; set; } = 48L * 1024 * 1024;

    [Range(1024, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Width × height an upload may declare; larger ones are refused before decoding.</summary>
    [Range(1, long.MaxValue)]
    public long MaxPixels { get; set; } = 40_000_000;

    /// <summary>
    /// Uploads decoded at the same time. Decoding one image may take 4 bytes per declared pixel twice over
    /// (≈ 320 MB at the default MaxPixels), so this bounds the request threads' transient memory.
    /// </summary>
    [Range(1, 64)]
    public int ConcurrentDecodes { get; set; } = 2;

    [Range(1, 100_000)]
    public int MaxPromptLength { get; set; } = 2000;

    /// <summary>The largest max_side a request may ask for (a multiple of 16).</summary>
    [Range(EditSettings.MinMaxSide, 8192)]
    public int MaxSideCap { get; set; } = 1024;

    [Range(EditSettings.MinMaxSide, 8192)]
    public int DefaultMaxSide { get; set; } = 512;

    [Range(EditSettings.MinSteps, EditSettings.MaxSteps)]
    public int MaxSteps { get; set; } = 50;

    /// <summary>source_image parts one edit may carry (one exemplar pair applied to each, in one DiT batch per working size).</summary>
    [Range(1, 16)]
    public int MaxSourcesPerEdit { get; set; } = 4;

    /// <summary>Outputs (<c>n</c>) one edit may ask for per source, each with its own seed.</summary>
    [Range(1, 16)]
    public int MaxOutputsPerSource { get; set; } = 4;

    /// <summary>Outputs per source (<c>n</c>): source i's k-th output has seed + i·n + k and is result i·n + k.</summary>
    public Bounds<int> Outputs => new(1, MaxOutputsPerSource, 1);

    /// <summary>Denoising steps; the default, when MaxSteps is below it, is MaxSteps.</summary>
    public Bounds<int> Steps => new(EditSettings.MinSteps, MaxSteps, Math.Min(EditSettings.DefaultSteps, MaxSteps));

    /// <summary>The edited image's longest side (also a multiple of <see cref="EditSettings.SideMultiple"/>).</summary>
    public Bounds<int> MaxSide => new(EditSettings.MinMaxSide, MaxSideCap, DefaultMaxSide);

    public Bounds<double> Guidance => new(EditSettings.MinGuidance, EditSettings.MaxGuidance, EditSettings.DefaultGuidance);

    public Bounds<double> AdapterScale => new(EditSettings.MinAdapterScale, EditSettings.MaxAdapterScale, EditSettings.DefaultAdapterScale);

    public Bounds<double> CacheThreshold => new(0, EditSettings.MaxCacheThreshold, EditSettings.DefaultCacheThreshold);

    /// <summary>No default: a request without a seed gets a random one in this range.</summary>
    public Bounds<long> Seed => new(0, EditSettings.MaxSeed);

    /// <summary>
    /// Request bodies being read at once in this process. Uploads hold these, not queue places (a place is taken once
    /// the body is complete), so slow clients can exhaust only their own slots, never the queue.
    /// </summary>
    [Range(1, 100_000)]
    public int ConcurrentUploads { get; set; } = 64;

    /// <summary>Request bodies one API key (or, without keys, all callers together) may be sending at once.</summary>
    [Range(1, 100_000)]
    public int ConcurrentUploadsPerKey { get; set; } = 32;

    /// <summary>After <see cref="UploadGracePeriod"/>, a body arriving slower than this is dropped (0: no minimum).</summary>
    [Range(0, long.MaxValue)]
    public long MinUploadBytesPerSecond { get; set; } = 16 * 1024;

    /// <summary>How long a body may start slowly (TLS, a cold client) before the minimum rate applies; Kestrel needs more than 1 s.</summary>
    [Range(typeof(TimeSpan), "00:00:02", "01:00:00")]
    public TimeSpan UploadGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A request body must be complete within this, however fast it trickles.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan UploadTimeout { get; set; } = TimeSpan.FromSeconds(120);

    /// <summary>The limits that depend on each other: a default a request may never ask for would refuse requests that asked nothing.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (MaxFileBytes > MaxRequestBytes)
            yield return new($"MaxFileBytes ({MaxFileBytes}) exceeds MaxRequestBytes ({MaxRequestBytes}).", [nameof(MaxFileBytes)]);
        if (MaxSideCap % 16 != 0)
            yield return new($"MaxSideCap ({MaxSideCap}) must be a multiple of 16.", [nameof(MaxSideCap)]);
        if (DefaultMaxSide % 16 != 0 || DefaultMaxSide > MaxSideCap)
            yield return new($"DefaultMaxSide ({DefaultMaxSide}) must be a multiple of 16 and at most MaxSideCap ({MaxSideCap}).", [nameof(DefaultMaxSide)]);
    }
}
