namespace RelationAdapter.Core.Pipeline;

/// <summary>
/// What one edit asks for, with its defaults and the ranges the pipeline accepts: the service's form binds
/// into it and documents it from these constants, the pipeline reads it.
/// </summary>
public sealed record EditSettings
{
    public const int DefaultSteps = 24, MinSteps = 1, MaxSteps = 1000;
    public const double DefaultGuidance = 3.5, MinGuidance = 0, MaxGuidance = 30;
    public const double DefaultAdapterScale = 1.0, MinAdapterScale = 0, MaxAdapterScale = 2;

    /// <summary>2^53 − 1: the largest integer every JSON client (JavaScript's numbers) holds exactly.</summary>
    public const long MaxSeed = (1L << 53) - 1;

    /// <summary>The source's long side at most; both sides are floored to multiples of <see cref="SideMultiple"/>.</summary>
    public const int DefaultMaxSide = 512, MinMaxSide = 16, SideMultiple = 16;

    /// <summary>A relative change of 10 is far beyond any useful step-cache threshold (0.05 to 0.25 are typical).</summary>
    public const double DefaultCacheThreshold = 0, MaxCacheThreshold = 10;

    /// <summary>The instruction (not needed when the caller passes a precomputed prompt embedding).</summary>
    public string? Prompt { get; init; }

    public int Steps { get; init; } = DefaultSteps;
    public double Guidance { get; init; } = DefaultGuidance;

    /// <summary>α: how strongly the exemplar pair's relation tokens steer the edit (0 leaves them out).</summary>
    public double AdapterScale { get; init; } = DefaultAdapterScale;

    public long Seed { get; init; } = 1000;
    public int MaxSide { get; init; } = DefaultMaxSide;

    /// <summary>
    /// First-Block Cache threshold (relative L1 change of the first block's residual below which a step
    /// reuses the other blocks' cached residual). 0 (default) computes every step; larger is faster and less exact.
    /// </summary>
    public double CacheThreshold { get; init; } = DefaultCacheThreshold;
}
