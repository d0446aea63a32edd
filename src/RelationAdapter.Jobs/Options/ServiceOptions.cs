using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Jobs.Options;

/// <summary>What this replica does ("Service" section).</summary>
public sealed class ServiceOptions
{
    public const string Section = "Service";
    public const string AllRole = "all", ApiRole = "api", WorkerRole = "worker";

    /// <summary>
    /// <c>all</c> (default): HTTP API and the GPU worker in one process; <c>api</c>: the HTTP API only (no model is
    /// loaded, no GPU needed; needs <c>Queue:Backend=redis</c>); <c>worker</c>: loads the model and runs jobs from
    /// the shared queue, serving only health and metrics.
    /// </summary>
    [Required, RegularExpression("^(all|api|worker)$")]
    public string Role { get; set; } = AllRole;

    /// <summary>This replica's name in job views (<c>worker</c>) and in the consumer group; default: the host name.</summary>
    public string InstanceName { get; set; } = Environment.MachineName;

    /// <summary>
    /// The absolute URL clients reach the service at (e.g. https://edits.example.com): result links in job views and
    /// webhooks start with it. Unset: the forwarded headers of a trusted proxy (<see cref="TrustedProxies"/>), else the
    /// submitting request's own scheme and host.
    /// </summary>
    [Url]
    public string? PublicBaseUrl { get; set; }

    /// <summary>
    /// Signs result links (HMAC-SHA256 over path and expiry), which then work without an API key until the job's
    /// <c>expires_at</c>. Every replica needs the same key; unset, each process draws a random one (fine for one replica).
    /// </summary>
    public string? LinkSigningKey { get; set; }

    /// <summary>Proxies (addresses, or networks as a.b.c.d/n) whose X-Forwarded-Proto, -Host and -For are believed.</summary>
    public List<string> TrustedProxies { get; set; } = [];

    public bool RunsApi => Role != WorkerRole;
    public bool RunsWorker => Role != ApiRole;
}
