using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Jobs.Options;

/// <summary>The job queue and result store ("Queue" section).</summary>
public sealed class QueueOptions
{
    public const string Section = "Queue";
    public const string MemoryBackend = "memory", RedisBackend = "redis";
    public const string RedisConnectionName = "Redis";

    /// <summary>
    /// <c>memory</c> (default): jobs, results and relations live in this process. <c>redis</c>: in the Redis named
    /// by <c>ConnectionStrings:Redis</c>, shared by every replica (needed for the <c>api</c> and <c>worker</c> roles).
    /// </summary>
    [Required, RegularExpression("^(memory|redis)$")]
    public string Backend { get; set; } = MemoryBackend;

    /// <summary>
    /// Redis backend: a job whose worker went silent (killed, OOM, node lost) this long is claimed by another worker
    /// and run again from the start. Running workers renew their claim four times per period.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ClaimTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public bool UsesRedis => Backend == RedisBackend;

    /// <summary>Jobs waiting at most; a submission beyond it gets 503 with Retry-After.</summary>
    [Range(1, 100_000)]
    public int Capacity { get; set; } = 32;

    /// <summary>Exemplar pairs waiting to be encoded (POST /v1/relations) at most; beyond it 503 with Retry-After.</summary>
    [Range(1, 10_000)]
    public int RelationCapacity { get; set; } = 8;

    /// <summary>
    /// A <c>Prefer: wait</c> client that goes away before its job started cancels the job (nobody else knows
    /// its id); a job that started runs on and stays listed.
    /// </summary>
    public bool CancelOnDisconnect { get; set; } = true;

    /// <summary>How long a finished job and its image are kept.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00")]
    public TimeSpan ResultRetention { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Finished jobs kept at most (the oldest are evicted first).</summary>
    [Range(1, 1_000_000)]
    public int MaxStoredResults { get; set; } = 200;

    /// <summary>The cap on <c>Prefer: wait=N</c>.</summary>
    [Range(0, 3600)]
    public int MaxWaitSeconds { get; set; } = 120;

    /// <summary>How long a bare <c>Prefer: wait</c> (no number, as Replicate's clients send it) waits; capped by MaxWaitSeconds.</summary>
    [Range(1, 3600)]
    public int DefaultWaitSeconds { get; set; } = 60;

    /// <summary>How long an event stream stays silent before it sends a heartbeat comment.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan EventHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The Retry-After sent with 503 when the queue is full.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 10;

    /// <summary>On shutdown, how long the running job may take to finish before it is canceled.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>
    /// On shutdown, before anything stops: readiness fails and the API answers <c>503 shutting-down</c> for this
    /// long while the listener stays open, so that load balancers route elsewhere before connections are refused.
    /// 0 (default): the listener closes at once.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainPeriod { get; set; } = TimeSpan.Zero;
}
