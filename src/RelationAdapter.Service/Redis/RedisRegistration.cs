using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Redis;

public static class RedisRegistration
{
    /// <summary>
    /// With <c>Queue:Backend=redis</c>: jobs, queue, results, relations, idempotency keys and webhook deliveries in
    /// the Redis of <c>ConnectionStrings:Redis</c>.
    /// </summary>
    public static IHostApplicationBuilder AddRedisBackend(this IHostApplicationBuilder builder)
    {
        var queue = builder.Configuration.ReadSection<QueueOptions>(QueueOptions.Section);
        if (!queue.UsesRedis) return builder;
        var connection = builder.Configuration.GetConnectionString(QueueOptions.RedisConnectionName);
        if (string.IsNullOrWhiteSpace(connection))
            throw new InvalidOperationException("Queue:Backend is redis but ConnectionStrings:Redis is not set (e.g. ConnectionStrings__Redis=redis:6379).");
        var service = builder.Configuration.ReadSection<ServiceOptions>(ServiceOptions.Section);

        var services = builder.Services;
        services.AddSingleton(provider => new RedisConnection(connection, provider.GetRequiredService<ILogger<RedisConnection>>()));
        services.AddSingleton<RedisJobs>();
        services.AddSingleton<ISharedRelationStore, RedisRelationStore>();
        services.AddSingleton<IRelationRequests, RedisRelationRequests>();
        services.AddSingleton<Webhooks.IWebhookOutbox, RedisWebhookOutbox>();
        services.AddSingleton<IIdempotencyKeys, RedisIdempotencyKeys>();
        services.AddSingleton<IJobBoard, RedisJobBoard>(); // with this replica's work source, where it runs a worker
        if (service.RunsWorker)
        {
            services.AddSingleton<RedisWorkSource>();
            services.AddSingleton<IWorkSource>(provider => provider.GetRequiredService<RedisWorkSource>());
        }
        return builder;
    }
}
