using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Tests.Webhooks;

/// <summary>
/// <c>AddWebhooks</c> as the service calls it, on its own: the options bound from settings, the real outbox,
/// HTTP client and dispatcher, started as the host would start them. Backoffs are milliseconds, so retries are fast.
/// </summary>
public sealed class WebhookDispatcherHost : IAsyncDisposable
{
    /// <summary>A secret of the right form: 32 bytes, base64, after whsec_.</summary>
    public const string Secret = "whsec_c2VjcmV0LWtleS1mb3ItdGhlLXdlYmhvb2stdGVzdHM=";

    public static Dictionary<string, string?> FastSettings() => new()
    {
        ["Webhooks:Secret"] = Secret,
        ["Webhooks:AllowPrivateNetworks"] = "true",
        ["Webhooks:InitialBackoff"] = "00:00:00.040",
        ["Webhooks:MaxBackoff"] = "00:00:00.500",
        ["Webhooks:Timeout"] = "00:00:05",
        ["Webhooks:RetryWindow"] = "00:01:00",
        ["Webhooks:MaxAttempts"] = "5",
    };

    readonly ServiceProvider _services;
    readonly List<IHostedService> _started = [];

    public WebhookDispatcher Dispatcher => _services.GetRequiredService<WebhookDispatcher>();
    public IWebhookOutbox Outbox => _services.GetRequiredService<IWebhookOutbox>();
    public IMeterFactory Meters => _services.GetRequiredService<IMeterFactory>();

    WebhookDispatcherHost(ServiceProvider services) => _services = services;

    public static ServiceProvider Build(IDictionary<string, string?> settings) =>
        new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddLogging()
            .AddSingleton<IWebhookOutbox>(new MemoryWebhookOutbox())
            .AddWebhooks()
            .BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

    public static async Task<WebhookDispatcherHost> StartAsync(Action<Dictionary<string, string?>>? change = null)
    {
        var settings = FastSettings();
        change?.Invoke(settings);
        var host = new WebhookDispatcherHost(Build(settings));
        host._services.GetRequiredService<Microsoft.Extensions.Options.IStartupValidator>().Validate();
        foreach (var service in host._services.GetServices<IHostedService>())
        {
            await service.StartAsync(CancellationToken.None);
            host._started.Add(service);
        }
        return host;
    }

    /// <summary>A job's attempts once <paramref name="done"/> holds for them; fails after a generous deadline.</summary>
    public async Task<IReadOnlyList<WebhookAttempt>> AttemptsWhenAsync(string jobId, Func<IReadOnlyList<WebhookAttempt>, bool> done)
    {
        IReadOnlyList<WebhookAttempt> attempts = [];
        await Poll.UntilAsync(async () => done(attempts = await Dispatcher.AttemptsAsync(jobId)), $"the attempts of {jobId} never got there", seconds: 20);
        return attempts;
    }

    /// <summary>A job's attempts once its last one ended the delivery (delivered, failed or refused).</summary>
    public Task<IReadOnlyList<WebhookAttempt>> FinalAttemptsAsync(string jobId) =>
        AttemptsWhenAsync(jobId, attempts => attempts.Count > 0 && attempts[^1].Outcome != WebhookOutcome.Retrying);

    public async ValueTask DisposeAsync()
    {
        foreach (var service in Enumerable.Reverse(_started)) await service.StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }
}
