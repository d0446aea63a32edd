using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Hosting;

namespace RelationAdapter.Service.Jobs;

public static class JobsRegistration
{
    /// <summary>The model host, the queue and store of jobs, the relation cache and encoder, and the worker that runs them.</summary>
    public static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ModelHost>();
        services.AddSingleton<JobStore>();
        services.AddSingleton<JobQueue>();
        services.AddSingleton<RelationCache>();
        services.AddSingleton<RelationEncoder>();
        services.AddSingleton<EditRunner>();
        services.AddSingleton<InferenceWorker>();
        services.AddHostedService(provider => provider.GetRequiredService<InferenceWorker>());
        return services;
    }
}
