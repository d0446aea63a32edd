namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// Every key, stream and channel the Redis backend uses, under one prefix. The Kubernetes manifests (the KEDA
/// scaler's stream and consumer group) name the same ones; a test checks that they agree.
/// </summary>
public static class RedisKeys
{
    public const string Prefix = "ra:";

    /// <summary>The stream of submitted edit jobs (one entry per job, its id).</summary>
    public const string EditStream = Prefix + "edits";

    /// <summary>The stream of exemplar pairs to encode (POST /v1/relations).</summary>
    public const string RelationStream = Prefix + "relations";

    /// <summary>The consumer group of the GPU workers on both streams.</summary>
    public const string WorkerGroup = "workers";

    /// <summary>Queued job ids scored by sequence: the global queue order, depth and positions.</summary>
    public const string Queued = Prefix + "queued";

    /// <summary>Places reserved by uploads in progress, scored by when they lapse (a replica that dies leaks none).</summary>
    public const string Places = Prefix + "places";

    public const string Sequence = Prefix + "sequence";

    /// <summary>Finished jobs by the time (Redis's clock, ms) their retention ends: whoever removes one tells the observers it is forgotten.</summary>
    public const string Expiring = Prefix + "expiring";

    /// <summary>Published when a job leaves the queue: watchers of queued jobs recompute their positions.</summary>
    public const string QueueMovedChannel = Prefix + "queue-moved";

    /// <summary>Published with a job id when a running job is to stop.</summary>
    public const string CancelChannel = Prefix + "cancel";

    /// <summary>Published when work is added to a stream, so idle workers look at once.</summary>
    public const string WorkChannel = Prefix + "work";

    /// <summary>Published with a relation id (and an error after a newline) when its encoding ended.</summary>
    public const string RelationDoneChannel = Prefix + "relation-done";

    /// <summary>The job: spec, state, status, version and worker fields.</summary>
    public static string Job(string id) => $"{Prefix}job:{id}";

    /// <summary>The job's encoded inputs (source, exemplar pair), deleted when it ends.</summary>
    public static string Inputs(string id) => $"{Prefix}job:{id}:inputs";

    /// <summary>The job's encoded images, by source index.</summary>
    public static string Result(string id) => $"{Prefix}job:{id}:results";

    /// <summary>The owner's jobs scored by sequence, for the listing (<c>-</c>: jobs made without API keys).</summary>
    public static string OwnerIndex(string? owner) => $"{Prefix}owner:{owner ?? "-"}";

    /// <summary>The job's events: a version, a kind and the state, separated by newlines.</summary>
    public static string Events(string id) => $"{Prefix}events:{id}";

    public static string Relation(string id) => $"{Prefix}relation:{id}";

    /// <summary>
    /// The relation's exemplar pair, padded and PNG-encoded once (prompt_image, reference_image), kept for
    /// Queue:ResultRetention after its last use: each job of the relation gets a copy in its inputs, made by Redis.
    /// </summary>
    public static string RelationPair(string id) => $"{Prefix}relation:{id}:pair";

    /// <summary>Present while the API key <paramref name="owner"/> may use the relation (it made or used it).</summary>
    public static string RelationOwner(string owner, string id) => $"{Prefix}relation:{id}:owner:{owner}";

    /// <summary>A pair being encoded (set once, so concurrent requests on any replica share one encoding) and its images.</summary>
    public static string RelationPending(string id) => $"{Prefix}relation:{id}:pending";
}
