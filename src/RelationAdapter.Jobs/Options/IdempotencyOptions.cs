using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Jobs.Options;

/// <summary>Idempotency keys of POST /v1/edits and /v1/relations ("Idempotency" section).</summary>
public sealed class IdempotencyOptions
{
    public const string Section = "Idempotency";

    /// <summary>How long a key answers with the original outcome.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Keys remembered at most (the oldest are forgotten first).</summary>
    [Range(1, 10_000_000)]
    public int MaxKeys { get; set; } = 100_000;
}
