using RelationAdapter.Jobs.Options;
namespace RelationAdapter.Service.Platform;

public static class OptionsRegistration
{
    /// <summary>Every options class, validated at start-up; the shutdown timeout covers the drain and the running job's grace period.</summary>
    public static IHostApplicationBuilder AddServiceOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ServiceOptions>().BindConfiguration(ServiceOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<QueueOptions>().BindConfiguration(QueueOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<LimitsOptions>().BindConfiguration(LimitsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<RelationCacheOptions>().BindConfiguration(RelationCacheOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<InputsOptions>().BindConfiguration(InputsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<IdempotencyOptions>().BindConfiguration(IdempotencyOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<ManagementOptions>().BindConfiguration(ManagementOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<AuthOptions>()
            .Configure<IConfiguration>((auth, configuration) => auth.ApiKeys = AuthOptions.Read(configuration.GetSection(AuthOptions.Section).GetSection(nameof(AuthOptions.ApiKeys))));

        // Read before the container is built, so straight from configuration.
        var queue = builder.Configuration.ReadSection<QueueOptions>(QueueOptions.Section);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = queue.DrainPeriod + queue.ShutdownGracePeriod + TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>A section's options before the container is built (its defaults when the section is absent).</summary>
    public static T ReadSection<T>(this IConfiguration configuration, string section) where T : new() =>
        configuration.GetSection(section).Get<T>() ?? new T();
}
