namespace RelationAdapter.Service.Redis;

/// <summary>
/// Every key, stream and channel the Redis backend uses, under one prefix. The Kubernetes manifests (the KEDA
/// scaler's stream and consumer group) name the same ones; a test checks that they agree.
/// </summary>
public static class RedisKeys
{
    public const string Prefix = "ra:";

    /// <summary>The stream of submitted edit jobs (one entry per job, its id).</summary>
    public const string EditStream = Prefix + "edits";

    /// <summary>The consumer group of the GPU workers on <see cref="EditStream"/>.</summary>
    public const string WorkerGroup = "workers";
}
