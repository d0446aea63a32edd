using Microsoft.Extensions.Options;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Jobs;

public static class JobsRegistration
{
    /// <summary>
    /// The model host, the relation cache and the edit runner; the embedded (memory) backend unless another is
    /// configured; and the inference worker on replicas whose role runs the model.
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
        if (!queue.UsesRedis)
        {
            if (service.Role != ServiceOptions.AllRole)
                throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions),
                    [$"Service:Role={service.Role} needs the shared backend (Queue:Backend=redis): with the memory backend one process does everything."]);
            services.AddSingleton<JobStore>();
            services.AddSingleton<JobQueue>();
            services.AddSingleton<RelationEncoder>();
            services.AddSingleton<MemoryJobBoard>();
            services.AddSingleton<IJobBoard>(provider => provider.GetRequiredService<MemoryJobBoard>());
            services.AddSingleton<IWorkSource>(provider => provider.GetRequiredService<MemoryJobBoard>());
            services.AddSingleton<IRelationRequests>(provider => provider.GetRequiredService<RelationEncoder>());
        }
        if (service.RunsWorker)
        {
            services.AddSingleton<InferenceWorker>();
            services.AddHostedService(provider => provider.GetRequiredService<InferenceWorker>());
        }
        return builder;
    }
}
