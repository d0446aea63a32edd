using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Redis;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Service.Platform;
using RelationAdapter.Service.Worker;

namespace RelationAdapter.Service;

public static class JobsRegistration
{
    /// <summary>
    /// The job backend <c>Queue:Backend</c> names (the one place it is chosen: memory, or Redis shared by every
    /// replica), the model host, the relation cache and the edit runner; and the inference worker on replicas
    /// whose role runs the model.
    /// </summary>
    public static IHostApplicationBuilder AddJobs(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ModelHost>();
        services.AddSingleton<RelationCache>();
        services.AddSingleton<EditRunner>();
        services.AddSingleton<RelationPlaces>();

        var queue = builder.Configuration.ReadSection<QueueOptions>(QueueOptions.Section);
        var service = builder.Configuration.ReadSection<ServiceOptions>(ServiceOptions.Section);
        if (queue.UsesRedis)
        {
            var connection = builder.Configuration.GetConnectionString(QueueOptions.RedisConnectionName);
            if (string.IsNullOrWhiteSpace(connection))
                throw new InvalidOperationException("Queue:Backend is redis but ConnectionStrings:Redis is not set (e.g. ConnectionStrings__Redis=redis:6379).");
            services.AddRedisJobBackend(connection, service.RunsWorker);
        }
        else
        {
            if (service.Role != ServiceOptions.AllRole)
                throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions),
                    [$"Service:Role={service.Role} needs the shared backend (Queue:Backend=redis): with the memory backend one process does everything."]);
            services.AddMemoryJobBackend();
        }
        if (service.RunsWorker)
        {
            services.AddSingleton<InferenceWorker>();
            services.AddHostedService(provider => provider.GetRequiredService<InferenceWorker>());
        }
        return builder;
    }
}
