using RelationAdapter.Service.Tests.Support;
using StackExchange.Redis;
using RelationAdapter.TestKit;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>
/// A real redis-server (Debian's package) on a free loopback port, with AOF persistence so a restart keeps what
/// was written. Installed with apt-get when absent and the tests run as root (as in CI).
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    public const string Path = "/usr/bin/redis-server";

    RedisProcess? _redis;

    public string ConnectionString => (_redis ?? throw new InvalidOperationException("redis-server is not started")).ConnectionString;

    public async Task InitializeAsync()
    {
        if (!File.Exists(Path))
        {
            Assert.True(Apt.CanInstall, $"{Path} is missing: install Debian's redis-server package (apt-get install redis-server).");
            var install = await Apt.InstallAsync("redis-server");
            Assert.True(File.Exists(Path), install.ToString());
        }
        _redis = await RedisProcess.StartAsync(Path, appendOnly: true);
    }

    /// <summary>Starts each test on an empty Redis.</summary>
    public async Task FlushAsync()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true");
        await connection.GetServer(ConnectionString).FlushAllDatabasesAsync();
    }

    /// <summary>Stops Redis as an operator's restart would, and starts it again on the same port and data directory.</summary>
    public Task RestartAsync() => _redis!.RestartAsync();

    /// <summary>Stops Redis (an outage) until <see cref="StartAgainAsync"/>.</summary>
    public Task StopAsync() => _redis!.StopAsync();

    public Task StartAgainAsync() => _redis!.StartAgainAsync();

    public async Task DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServer>
{
    public const string Name = "Redis";
}
