using System.Diagnostics;
using System.Net;
using System.Text;

namespace RelationAdapter.Service.Tests.Scaling;

/// <summary>
/// The service as its own process (the built RelationAdapter.Service.dll on the tiny preset), for what only a
/// process shows: a kill -9 in the middle of a job, a SIGTERM and how long the shutdown takes.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();

    public Uri Address { get; }
    public HttpClient Client { get; }

    ServiceProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    public static async Task<ServiceProcess> StartAsync(IDictionary<string, string> settings)
    {
        var port = RedisServer.FreePort();
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "RelationAdapter.Service.dll")])
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        start.Environment["Model__Preset"] = "tiny";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;
        var service = new ServiceProcess(new Process { StartInfo = start }, new Uri($"http://127.0.0.1:{port}"));
        service._process.OutputDataReceived += (_, line) => { lock (service._output) service._output.AppendLine(line.Data); };
        service._process.ErrorDataReceived += (_, line) => { lock (service._output) service._output.AppendLine(line.Data); };
        service._process.Start();
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            try
            {
                if ((await service.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK) return service;
            }
            catch (HttpRequestException) { }
            if (service._process.HasExited || DateTime.UtcNow > deadline)
                throw new TimeoutException($"the service process did not become ready:\n{service.Output}");
            await Task.Delay(100);
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
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill.WaitForExitAsync();
        using var deadline = new CancellationTokenSource(limit);
        await _process.WaitForExitAsync(deadline.Token);
        return clock.Elapsed;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited) await KillAsync();
        _process.Dispose();
    }
}
