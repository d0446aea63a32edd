using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Jobs.Options;

/// <summary>The cache of exemplar-pair relation tokens ("RelationCache" section).</summary>
public sealed class RelationCacheOptions
{
    public const string Section = "RelationCache";

    /// <summary>Bytes of relation tokens kept at most (the real model's pair is 4 MiB).</summary>
    [Range(1, long.MaxValue)]
    public long SizeLimitBytes { get; set; } = 512L * 1024 * 1024;

    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan SlidingExpiration { get; set; } = TimeSpan.FromHours(1);
}
