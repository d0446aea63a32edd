using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Jobs.Memory;

public static class MemoryBackendRegistration
{
    /// <summary>The embedded backend: jobs, queue, relation encodings, idempotency keys and webhook deliveries in this process.</summary>
    public static IServiceCollection AddMemoryJobBackend(this IServiceCollection services)
    {
        services.AddJobLifecycle<JobStore>();
        services.AddSingleton<JobQueue>();
        services.AddSingleton<RelationEncoder>();
        services.AddSingleton<MemoryJobBoard>();
        services.AddSingleton<IJobBoard>(provider => provider.GetRequiredService<MemoryJobBoard>());
        services.AddSingleton<IWorkSource>(provider => provider.GetRequiredService<MemoryJobBoard>());
        services.AddSingleton<IRelationRequests>(provider => provider.GetRequiredService<RelationEncoder>());
        services.AddSingleton<IIdempotencyKeys, MemoryIdempotencyKeys>();
        services.AddSingleton<IWebhookOutbox>(_ => new MemoryWebhookOutbox());
        return services;
    }
}
