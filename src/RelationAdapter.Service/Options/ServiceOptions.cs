using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Service.Options;

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

    public bool RunsApi => Role != WorkerRole;
    public bool RunsWorker => Role != ApiRole;
}
