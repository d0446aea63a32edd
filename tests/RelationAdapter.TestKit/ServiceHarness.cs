using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

// What the scale benchmark and the service tests (which link this file) both need to run the service as real
// processes: the service, a redis-server, free ports and sample images. Nothing here depends on a test framework.
namespace RelationAdapter.TestKit;

/// <summary>
/// The service as its own process (the built RelationAdapter.Service.dll on the tiny preset), as a replica runs in a
/// deployment: for what only a process shows (a kill -9 in the middle of a job, a SIGTERM and how long the shutdown
/// takes) and for measuring processes that coordinate through Redis.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    public const string Dll = "RelationAdapter.Service.dll";

    readonly Process _process;
    readonly Queue<string> _lastLines = new();

    ServiceProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    /// <summary>A client whose base address is the service.</summary>
    public HttpClient Client { get; }

    /// <summary>The last lines the process printed (standard output and error).</summary>
    public string Output
    {
        get { lock (_lastLines) return string.Join('\n', _lastLines); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// The service dll beside the running program (a test project that references the service), else the newest build
    /// in the repository's <c>src/RelationAdapter.Service/bin</c> (the benchmarks); null when there is none.
    /// </summary>
    public static string? FindDll()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, Dll);
        if (File.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var bin = Path.Combine(dir.FullName, "src", "RelationAdapter.Service", "bin");
            if (Directory.Exists(bin))
                return Directory.GetFiles(bin, Dll, SearchOption.AllDirectories).OrderByDescending(File.GetLastWriteTimeUtc).FirstOrDefault();
        }
        return null;
    }

    /// <summary>
    /// Starts the service dll (by default <see cref="FindDll"/>'s) on a free loopback port (or
    /// <paramref name="port"/>) and waits until it is ready there. <paramref name="settings"/> are configuration keys
    /// ("Queue:Backend") or environment variables.
    /// </summary>
    public static async Task<ServiceProcess> StartAsync(IEnumerable<KeyValuePair<string, string>> settings, string? dll = null,
        string name = "service", TimeSpan? readyWithin = null, int? port = null)
    {
        dll ??= FindDll() ?? throw new FileNotFoundException($"{Dll} is not built (dotnet build src/RelationAdapter.Service).");
        port ??= LoopbackPort.Free();
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(dll))!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["Model__Preset"] = "tiny";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;
        var service = new ServiceProcess(new Process { StartInfo = start }, new Uri($"http://127.0.0.1:{port}"));
        service._process.OutputDataReceived += (_, line) => service.Keep(line.Data);
        service._process.ErrorDataReceived += (_, line) => service.Keep(line.Data);
        service._process.Start();
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + (readyWithin ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            try
            {
                if ((await probe.GetAsync(new Uri(service.Address, "/readyz"))).StatusCode == HttpStatusCode.OK) return service;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            if (service._process.HasExited || DateTime.UtcNow > deadline)
            {
                var output = service.Output;
                await service.DisposeAsync();
                throw new TimeoutException($"the service process '{name}' did not become ready:\n{output}");
            }
            await Task.Delay(100);
        }
    }

    void Keep(string? line)
    {
        if (line is null) return;
        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            if (_lastLines.Count > 200) _lastLines.Dequeue();
        }
    }

    /// <summary>kill -9: no shutdown, no goodbye.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as Kubernetes stops a pod; the time until the process exited.</summary>
    public async Task<TimeSpan> TerminateAsync(TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(limit);
        await _process.WaitForExitAsync(deadline.Token);
        return clock.Elapsed;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}

/// <summary>
/// A throw-away redis-server on a free loopback port and a temporary directory: without persistence, or with AOF
/// persistence (fsync on every write) so that a restart keeps what was written.
/// </summary>
public sealed class RedisProcess : IAsyncDisposable
{
    readonly string _path;
    readonly string _directory;
    readonly bool _appendOnly;
    Process? _process;

    RedisProcess(string path, string directory, int port, bool appendOnly)
    {
        _path = path;
        _directory = directory;
        _appendOnly = appendOnly;
        Port = port;
    }

    public int Port { get; }
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisProcess> StartAsync(string path, bool appendOnly = false)
    {
        var redis = new RedisProcess(path, Directory.CreateTempSubdirectory("ra-redis-").FullName, LoopbackPort.Free(), appendOnly);
        try
        {
            await redis.LaunchAsync();
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }
        return redis;
    }

    /// <summary>Stops Redis as an operator's restart would (kill), and starts it again on the same port and directory.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await LaunchAsync();
    }

    async Task LaunchAsync()
    {
        var start = new ProcessStartInfo(_path)
        {
            ArgumentList = { "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _directory, "--save", "", "--daemonize", "no" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in _appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : new[] { "--appendonly", "no" })
            start.ArgumentList.Add(argument);
        var process = _process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await PingAsync())
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                await StopAsync();
                throw new TimeoutException($"{_path} did not answer PING on port {Port}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>True once Redis answers PONG (not while it is still loading its data).</summary>
    async Task<bool> PingAsync()
    {
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var answer = new byte[7];
            var read = await stream.ReadAsync(answer);
            return Encoding.ASCII.GetString(answer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return false;
        }
    }

    /// <summary>Starts Redis again after <see cref="StopAsync"/>, on the same port and data directory.</summary>
    public Task StartAgainAsync() => LaunchAsync();

    /// <summary>Stops Redis at once (kill), as a crash or an outage would.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_directory, recursive: true);
    }
}

public static class LoopbackPort
{
    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public static class SampleImages
{
    /// <summary>A gradient PNG; <paramref name="phase"/> shifts its colours, so different phases make different images.</summary>
    public static byte[] Png(int width, int height, int phase = 0)
    {
        using var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            image[x, y] = new Rgb24((byte)(x * 255 / width), (byte)((y * 255 / height + phase) % 256), (byte)((x * y + phase) % 256));
        using var stream = new MemoryStream();
        image.Save(stream, new PngEncoder());
        return stream.ToArray();
    }
}
