using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RelationAdapter.Jobs.Telemetry;

/// <summary>The service's traces and metrics, defined in one place.</summary>
public sealed class ServiceTelemetry : IDisposable
{
    public const string Name = "RelationAdapter.Service";

    /// <summary>Prometheus names, as the exporter derives them from the instruments below.</summary>
    public static class PrometheusNames
    {
        public const string QueueDepth = "ra_queue_depth";
        public const string Jobs = "ra_jobs_total";
        public const string JobDuration = "ra_job_duration_seconds";
        public const string StepDuration = "ra_step_duration_seconds";
        public const string RelationCacheHits = "ra_relation_cache_hits_total";
        public const string RelationCacheMisses = "ra_relation_cache_misses_total";
    }

    public static readonly ActivitySource ActivitySource = new(Name);

    readonly Meter _meter;

    public Counter<long> Jobs { get; }
    public Histogram<double> JobDuration { get; }
    public Histogram<double> StepDuration { get; }
    public Counter<long> RelationCacheHits { get; }
    public Counter<long> RelationCacheMisses { get; }

    public ServiceTelemetry(IMeterFactory meters)
    {
        _meter = meters.Create(Name);
        Jobs = _meter.CreateCounter<long>("ra.jobs", description: "Edit jobs finished, by outcome (succeeded, failed, canceled).");
        JobDuration = _meter.CreateHistogram<double>("ra.job.duration", "s", "Time from a job's start to its end.");
        StepDuration = _meter.CreateHistogram<double>("ra.step.duration", "s", "Time of one denoising step.");
        RelationCacheHits = _meter.CreateCounter<long>("ra.relation_cache.hits", description: "Edits and relations served from cached relation tokens.");
        RelationCacheMisses = _meter.CreateCounter<long>("ra.relation_cache.misses", description: "Exemplar pairs that had to be encoded.");
    }

    /// <summary>Counts a finished job by outcome and by the name of the API key that submitted it.</summary>
    public void CountJob(string outcome, string? owner) =>
        Jobs.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("api_key", owner ?? "none"));

    /// <summary>Registers the queue-depth gauge (jobs waiting, not running).</summary>
    public void ObserveQueueDepth(Func<int> depth) =>
        _meter.CreateObservableGauge("ra.queue.depth", depth, description: "Edit jobs waiting in the queue.");

    public void Dispose() => _meter.Dispose();
}
