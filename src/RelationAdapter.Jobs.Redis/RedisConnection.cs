using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// The replica's one multiplexed connection to Redis. It is made without waiting for Redis (a replica that
/// starts before Redis, or loses it, keeps retrying); every call that cannot reach Redis fails as
/// <see cref="BackendUnavailableException"/>, so nothing is accepted that was not stored.
/// </summary>
public sealed class RedisConnection : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    readonly ConnectionMultiplexer _multiplexer;

    public RedisConnection(string configuration, ILogger<RedisConnection>? logger = null)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        // While disconnected a call fails at once instead of waiting out its timeout in a backlog: a client gets its
        // 503 within the second, and nothing is sent later that the client was told was not accepted.
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= "relation-adapter";
        _multiplexer = ConnectionMultiplexer.Connect(options);
        // One line per outage (each request refused meanwhile logs nothing).
        _multiplexer.ConnectionFailed += (_, failed) =>
        {
            if (failed.ConnectionType == ConnectionType.Interactive)
                logger?.LogWarning("Redis ({Endpoint}) was lost ({Failure}): requests are answered 503 backend-unavailable until it is back", Endpoint, failed.FailureType);
        };
        _multiplexer.ConnectionRestored += (_, restored) =>
        {
            if (restored.ConnectionType == ConnectionType.Interactive) logger?.LogInformation("Redis ({Endpoint}) is back", Endpoint);
        };
    }

    public IDatabase Database => _multiplexer.GetDatabase();

    /// <summary>The first endpoint of the configuration (never its password).</summary>
    string Endpoint => _multiplexer.Configuration.Split(',')[0];
    public ISubscriber Subscriber => _multiplexer.GetSubscriber();

    /// <summary>Null when Redis answers a PING; else what is wrong, for readiness.</summary>
    public async Task<string?> ProblemAsync()
    {
        // Answered at once while disconnected: a readiness probe must not wait out a command timeout.
        if (!_multiplexer.IsConnected) return $"Redis ({Endpoint}) cannot be reached: not connected (reconnecting).";
        try
        {
            await Database.PingAsync();
            return null;
        }
        catch (Exception e) when (e is RedisConnectionException or TimeoutException)
        {
            return $"Redis ({Endpoint}) cannot be reached: {e.Message}";
        }
    }

    /// <summary>
    /// Sends a command nobody waits for (a lease renewed, a place given back) from a timer or a clean-up: a Redis that is
    /// away, or a connection already disposed as the replica stops, must not fail the thread that sends it.
    /// </summary>
    public void FireAndForget(Func<IDatabase, Task> command)
    {
        try
        {
            _ = command(Database).ContinueWith(sent => _ = sent.Exception, TaskContinuationOptions.OnlyOnFaulted);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            // Renewals and give-backs lapse on their own: the lease runs out.
        }
    }

    /// <summary>Runs a Redis call, turning a lost connection or a refusal to write into <see cref="BackendUnavailableException"/>.</summary>
    public static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is RedisConnectionException or TimeoutException || IsRefusal(e))
        {
            throw new BackendUnavailableException($"Redis cannot be reached: {e.Message}", e);
        }
    }

    /// <summary>
    /// A Redis that answers but takes no writes now: full under noeviction (OOM; in a transaction, EXECABORT), a read-only
    /// replica, loading, busy, failing to persist (MISCONF). A script's refusal comes wrapped: the code follows "ERR ... ".
    /// </summary>
    static bool IsRefusal(Exception e) =>
        e is RedisServerException && RefusalCodes.Any(code => e.Message.StartsWith(code, StringComparison.Ordinal) || e.Message.Contains(" " + code + " ", StringComparison.Ordinal));

    static readonly string[] RefusalCodes = ["OOM", "EXECABORT", "READONLY", "LOADING", "MASTERDOWN", "BUSY", "MISCONF", "NOREPLICAS"];

    public void Dispose() => _multiplexer.Dispose();
}
