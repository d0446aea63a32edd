using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Jobs.Redis;

public static class RedisRegistration
{
    /// <summary>
    /// The shared backend: jobs, queue, results, relations, idempotency keys and webhook deliveries in the Redis of
    /// <paramref name="connection"/>; this replica's work source when it runs a worker.
    /// </summary>
    public static IServiceCollection AddRedisJobBackend(this IServiceCollection services, string connection, bool runsWorker)
    {
        services.AddSingleton(provider => new RedisConnection(connection, provider.GetRequiredService<ILogger<RedisConnection>>()));
        services.AddJobLifecycle<RedisJobs>();
        services.AddSingleton<ISharedRelationStore, RedisRelationStore>();
        services.AddSingleton<IRelationRequests, RedisRelationRequests>();
        services.AddSingleton<IWebhookOutbox, RedisWebhookOutbox>();
        services.AddSingleton<IIdempotencyKeys, RedisIdempotencyKeys>();
        services.AddSingleton<IJobBoard, RedisJobBoard>(); // with this replica's work source, where it runs a worker
        if (runsWorker)
        {
            services.AddSingleton<RedisWorkSource>();
            services.AddSingleton<IWorkSource>(provider => provider.GetRequiredService<RedisWorkSource>());
        }
        return services;
    }
}
