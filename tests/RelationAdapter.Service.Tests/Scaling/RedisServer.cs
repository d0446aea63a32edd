using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using RelationAdapter.Service.Tests.Support;
using StackExchange.Redis;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>
/// A real redis-server (Debian's package) on a free loopback port, with AOF persistence so a restart keeps what
/// was written. Installed with apt-get when absent and the tests run as root (as in CI).
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    public const string Path = "/usr/bin/redis-server";

    readonly string _directory = Directory.CreateTempSubdirectory("ra-redis-").FullName;
    Process? _process;

    public int Port { get; } = FreePort();
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async Task InitializeAsync()
    {
        if (!File.Exists(Path))
        {
            Assert.True(Apt.CanInstall, $"{Path} is missing: install Debian's redis-server package (apt-get install redis-server).");
            var install = await Apt.InstallAsync("redis-server");
            Assert.True(File.Exists(Path), install.ToString());
        }
        await StartAsync();
    }

    async Task StartAsync()
    {
        _process = Process.Start(new ProcessStartInfo(Path)
        {
            ArgumentList = { "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _directory, "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--daemonize", "no" },
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync(ConnectionString);
                await probe.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Starts each test on an empty Redis.</summary>
    public async Task FlushAsync()
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(ConnectionString + ",allowAdmin=true");
        await connection.GetServer(ConnectionString).FlushAllDatabasesAsync();
    }

    /// <summary>Stops Redis as an operator's restart would, and starts it again on the same port and data directory.</summary>
    public async Task RestartAsync()
    {
        _process!.Kill();
        await _process.WaitForExitAsync();
        await StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        Directory.Delete(_directory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class RedisCollection : ICollectionFixture<RedisServer>
{
    public const string Name = "Redis";
}
