namespace RelationAdapter.Jobs;

public static class JobLifecycleRegistration
{
    /// <summary>The one lifecycle over a backend's store, and the observers it tells: each backend registers it with its own store.</summary>
    public static IServiceCollection AddJobLifecycle<TStore>(this IServiceCollection services) where TStore : class, IJobStore
    {
        services.AddSingleton<JobObservers>();
        services.AddSingleton<TStore>();
        services.AddSingleton<IJobStore>(provider => provider.GetRequiredService<TStore>());
        services.AddSingleton<JobLifecycle>();
        return services;
    }
}
