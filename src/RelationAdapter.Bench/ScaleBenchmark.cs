using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Bench;

/// <summary>
/// What the Redis backend costs and what it buys, on the tiny preset (an edit in milliseconds, so the numbers are
/// coordination, not inference): the service as real processes (the built RelationAdapter.Service.dll) against a
/// real redis-server. First one process on the memory backend, then an <c>api</c> process with 1, 2 and 3
/// <c>worker</c> processes on the Redis backend. For each: the latency of edits submitted one at a time
/// (<c>Prefer: wait</c>, so the answer is the image and nothing polls) and the throughput of edits submitted all
/// at once. The per-job coordination overhead is the difference of the median latencies.
/// </summary>
public static class ScaleBenchmark
{
    const string RedisServerPath = "/usr/bin/redis-server";
    const string ServiceDll = "RelationAdapter.Service.dll";

    /// <summary>Per job: the client's submit-to-image time, the worker's started-to-finished time, and created-to-started.</summary>
    sealed record Sequential(IReadOnlyList<double> LatencyMs, IReadOnlyList<double> RunMs, IReadOnlyList<double> QueuedMs)
    {
        /// <summary>
        /// Jobs that waited for an idle worker longer than any hand-over should take: a worker that missed the
        /// announcement of new work finds it only at its next poll (up to a second later).
        /// </summary>
        public int LateStarts => QueuedMs.Count(ms => ms >= 200);

        /// <summary>Upload, admission, the hand-over to the worker and the answer back: the median of each job's difference.</summary>
        public double OutsideMedianMs => Measure.Median(LatencyMs.Zip(RunMs, (latency, run) => latency - run));
    }

    /// <summary>Rounds of <paramref name="Jobs"/> edits submitted at once; the jobs each worker ran, over all rounds.</summary>
    sealed record Throughput(int Jobs, IReadOnlyList<double> Seconds, IReadOnlyDictionary<string, int> JobsPerWorker)
    {
        public double JobsPerSecond => Jobs / Measure.Median(Seconds);
    }

    sealed record Row(string Setup, Sequential? Sequential, Throughput Throughput);

    public static int Run(BenchOptions o, TextWriter? output = null) => RunAsync(o, output ?? Console.Out).GetAwaiter().GetResult();

    static async Task<int> RunAsync(BenchOptions o, TextWriter w)
    {
        var jobs = o.Int("jobs", 40);
        var steps = o.Int("steps", 1);
        var maxWorkers = o.Int("workers", 3);
        var warmup = o.Int("warmup", 3);
        var rounds = o.Int("rounds", 3);
        var torchThreads = o.Int("torch-threads", 1);
        var redisPath = o.String("redis-server", RedisServerPath);
        var serviceDll = o.String("service", Path.Combine(AppContext.BaseDirectory, ServiceDll));
        if (!File.Exists(redisPath))
        {
            w.WriteLine($"scale: {redisPath} is missing (apt-get install redis-server), or name it with --redis-server.");
            return 2;
        }
        if (!File.Exists(serviceDll))
        {
            w.WriteLine($"scale: {serviceDll} is missing: build the Bench project (it references the service), or name the dll with --service.");
            return 2;
        }

        var edit = new EditPayload(steps);
        w.WriteLine($"scale benchmark: tiny preset on the CPU, {edit.Describe()}, {jobs} jobs one at a time, then {rounds} rounds of {jobs} at once, " +
                    $"{warmup} warm-up jobs per process, " +
                    $"torch threads per process {(torchThreads > 0 ? torchThreads.ToString(CultureInfo.InvariantCulture) : "libtorch's default")}");
        w.WriteLine($"this machine has {Environment.ProcessorCount} cores, shared by this client, the API and every worker process" +
                    (Environment.ProcessorCount < maxWorkers + 1 ? $": {maxWorkers} workers cannot scale linearly here, the rows with more workers show that the coordination does not collapse" : ""));
        w.WriteLine(LoadAverage());
        var rows = new List<Row>();
        var total = Stopwatch.StartNew();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { Timeout = TimeSpan.FromMinutes(5) };
        await using var redis = await RedisProcess.StartAsync(redisPath);

        await using (var all = await ServiceProcess.StartAsync(serviceDll, "memory", torchThreads, new() { ["Queue:Backend"] = "memory" }))
        {
            var client = new EditClient(http, all.Address, edit);
            await client.WarmUpAsync(warmup);
            var sequential = await client.SequentialAsync(jobs);
            var throughput = await client.ConcurrentAsync(jobs, rounds);
            rows.Add(Print(w, "memory: 1 process (api + worker)", sequential, throughput));
        }

        var redisSettings = new Dictionary<string, string> { ["Queue:Backend"] = "redis", ["ConnectionStrings:Redis"] = redis.ConnectionString };
        await using (var api = await ServiceProcess.StartAsync(serviceDll, "api", torchThreads, new(redisSettings) { ["Service:Role"] = "api", ["Service:InstanceName"] = "api" }))
        {
            var client = new EditClient(http, api.Address, edit);
            for (var workerCount = 1; workerCount <= maxWorkers; workerCount++)
            {
                // Fresh workers for each count, so that every count starts from the same state: idle, warmed-up consumers.
                var names = Enumerable.Range(1, workerCount).Select(i => $"worker-{workerCount}-{i}").ToList();
                var workers = await Task.WhenAll(names.Select(name =>
                    ServiceProcess.StartAsync(serviceDll, name, torchThreads, new(redisSettings) { ["Service:Role"] = "worker", ["Service:InstanceName"] = name })));
                try
                {
                    await client.WarmUpAsync(warmup, names);
                    var sequential = workerCount == 1 ? await client.SequentialAsync(jobs) : null;
                    var throughput = await client.ConcurrentAsync(jobs, rounds);
                    rows.Add(Print(w, $"redis: api + {workerCount} worker process{(workerCount == 1 ? "" : "es")}", sequential, throughput));
                }
                finally
                {
                    foreach (var worker in workers) await worker.DisposeAsync();
                }
            }
        }

        PrintTable(w, rows);
        w.WriteLine($"benchmark time: {total.Elapsed.TotalSeconds:F0} s (process starts and warm-up included); {LoadAverage()}");
        return 0;
    }

    static Row Print(TextWriter w, string setup, Sequential? sequential, Throughput throughput)
    {
        w.WriteLine(setup);
        if (sequential is not null)
            w.WriteLine($"  one at a time: latency median {Ms(Measure.Median(sequential.LatencyMs))}, p90 {Ms(P90(sequential.LatencyMs))}; " +
                        $"in the model (started → finished) median {Ms(Measure.Median(sequential.RunMs))}, " +
                        $"outside it median {Ms(sequential.OutsideMedianMs)}; queued (created → started) median {Ms(Measure.Median(sequential.QueuedMs))}, " +
                        $"max {Ms(sequential.QueuedMs.Max())}, {sequential.LateStarts} of {sequential.QueuedMs.Count} jobs queued ≥ 200 ms with the worker idle");
        w.WriteLine($"  all at once: {throughput.Jobs} jobs in {string.Join(" / ", throughput.Seconds.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s, " +
                    $"median {throughput.JobsPerSecond:F1} jobs/s " +
                    $"(per worker: {string.Join(", ", throughput.JobsPerWorker.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"))})");
        return new Row(setup, sequential, throughput);
    }

    static void PrintTable(TextWriter w, IReadOnlyList<Row> rows)
    {
        w.WriteLine();
        w.WriteLine($"| setup | latency median | latency p90 | in the model (median) | outside it (median) | jobs/s, {rows[0].Throughput.Jobs} at once |");
        w.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var row in rows)
            w.WriteLine(row.Sequential is { } s
                ? $"| {row.Setup} | {Ms(Measure.Median(s.LatencyMs))} | {Ms(P90(s.LatencyMs))} | {Ms(Measure.Median(s.RunMs))} | {Ms(s.OutsideMedianMs)} | {row.Throughput.JobsPerSecond:F1} |"
                : $"| {row.Setup} | | | | | {row.Throughput.JobsPerSecond:F1} |");
        var memory = rows.FirstOrDefault(r => r.Setup.StartsWith("memory", StringComparison.Ordinal))?.Sequential;
        var redis = rows.FirstOrDefault(r => r.Setup.StartsWith("redis", StringComparison.Ordinal))?.Sequential;
        if (memory is not null && redis is not null)
        {
            w.WriteLine($"per-job coordination overhead (redis − memory, median latency): {Ms(Measure.Median(redis.LatencyMs) - Measure.Median(memory.LatencyMs))}");
            w.WriteLine($"jobs that waited ≥ 200 ms for an idle worker, one at a time: memory {memory.LateStarts} of {memory.QueuedMs.Count}, redis {redis.LateStarts} of {redis.QueuedMs.Count}");
        }
    }

    /// <summary>What else the machine runs: the numbers are only as quiet as the cores they shared.</summary>
    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? $"load average (1, 5, 15 min): {string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}" : "load average: unknown";

    static double P90(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(0.9 * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    static string Ms(double milliseconds) => $"{milliseconds.ToString("F1", CultureInfo.InvariantCulture)} ms";

    /// <summary>A small edit: 64x48 images, one relation and one prompt for every job (cache hits after the first).</summary>
    sealed class EditPayload(int steps)
    {
        readonly byte[] _source = Png(64, 48, 40), _before = Png(64, 48, 0), _after = Png(64, 48, 120);

        public string Describe() => $"64x48 edits, {steps} step{(steps == 1 ? "" : "s")}";

        public MultipartFormDataContent Form(int seed)
        {
            var form = new MultipartFormDataContent
            {
                { new StringContent("make it look like the example"), "prompt" },
                { new StringContent(steps.ToString(CultureInfo.InvariantCulture)), "steps" },
                { new StringContent(seed.ToString(CultureInfo.InvariantCulture)), "seed" },
            };
            foreach (var (field, bytes) in new[] { ("source_image", _source), ("prompt_image", _before), ("reference_image", _after) })
            {
                var content = new ByteArrayContent(bytes);
                content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
                form.Add(content, field, field + ".png");
            }
            return form;
        }

        static byte[] Png(int width, int height, int phase)
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

    sealed class EditClient(HttpClient http, Uri service, EditPayload payload)
    {
        int _seed;

        /// <summary>
        /// Jobs until every named worker (or the one process) ran <paramref name="jobsPerWorker"/> of them (JIT, first
        /// allocations, the relation and prompt caches), so that no measured job pays for a cold process.
        /// </summary>
        public async Task WarmUpAsync(int jobsPerWorker, IReadOnlyList<string>? workers = null)
        {
            var wanted = workers ?? [];
            var ran = new Dictionary<string, int>();
            for (var batch = 0; batch < 20; batch++)
            {
                var ids = await Task.WhenAll(Enumerable.Range(0, Math.Max(1, wanted.Count)).Select(_ => EditAsync()));
                foreach (var id in ids)
                {
                    var worker = (await ViewAsync(id)).Worker;
                    ran[worker] = ran.GetValueOrDefault(worker) + 1;
                }
                var coldest = wanted.Count == 0 ? ran.Values.Sum() : wanted.Min(name => ran.GetValueOrDefault(name));
                if (coldest >= jobsPerWorker) return;
            }
            throw new InvalidOperationException($"warm-up: the workers ran {string.Join(", ", ran.Select(p => $"{p.Key} {p.Value}"))} jobs; wanted {jobsPerWorker} each of {string.Join(", ", wanted)}");
        }

        public async Task<Sequential> SequentialAsync(int jobs)
        {
            var latencies = new List<double>();
            var runs = new List<double>();
            var queued = new List<double>();
            for (var i = 0; i < jobs; i++)
            {
                var clock = Stopwatch.StartNew();
                var id = await EditAsync();
                latencies.Add(clock.Elapsed.TotalMilliseconds);
                var view = await ViewAsync(id);
                runs.Add(view.RunMs);
                queued.Add(view.QueuedMs);
            }
            return new Sequential(latencies, runs, queued);
        }

        public async Task<Throughput> ConcurrentAsync(int jobs, int rounds)
        {
            var seconds = new List<double>();
            var perWorker = new Dictionary<string, int>();
            for (var round = 0; round < rounds; round++)
            {
                var clock = Stopwatch.StartNew();
                var ids = await Task.WhenAll(Enumerable.Range(0, jobs).Select(_ => EditAsync()));
                seconds.Add(clock.Elapsed.TotalSeconds);
                foreach (var id in ids)
                {
                    var worker = (await ViewAsync(id)).Worker;
                    perWorker[worker] = perWorker.GetValueOrDefault(worker) + 1;
                }
            }
            return new Throughput(jobs, seconds, perWorker);
        }

        /// <summary>Submits one edit and returns its id once it succeeded; the image comes back in the answer.</summary>
        async Task<string> EditAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(service, "/v1/edits")) { Content = payload.Form(Interlocked.Increment(ref _seed)) };
            request.Headers.Add("Prefer", "wait=600");
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            if (response.StatusCode == HttpStatusCode.OK) return response.Headers.GetValues("X-Edit-Id").Single();
            if (response.StatusCode != HttpStatusCode.Accepted)
                throw new InvalidOperationException($"POST /v1/edits answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(body)}");
            // Accepted: the wait ran out or the job failed; only a failure is an error worth stopping for.
            using var accepted = JsonDocument.Parse(body);
            var id = accepted.RootElement.GetProperty("id").GetString()!;
            while (true)
            {
                var view = await ViewAsync(id);
                if (view.Status == "succeeded") return id;
                if (view.Status is "failed" or "canceled") throw new InvalidOperationException($"edit {id} {view.Status}: {view.Json}");
                await Task.Delay(20);
            }
        }

        async Task<JobView> ViewAsync(string id)
        {
            var json = await http.GetStringAsync(new Uri(service, $"/v1/edits/{id}"));
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var status = root.GetProperty("status").GetString()!;
            var succeeded = status == "succeeded";
            var started = succeeded ? root.GetProperty("started_at").GetDateTimeOffset() : default;
            var runMs = succeeded ? (root.GetProperty("finished_at").GetDateTimeOffset() - started).TotalMilliseconds : double.NaN;
            var queuedMs = succeeded ? (started - root.GetProperty("created_at").GetDateTimeOffset()).TotalMilliseconds : double.NaN;
            return new JobView(status, root.GetProperty("worker").GetString() ?? "", runMs, queuedMs, json);
        }
    }

    sealed record JobView(string Status, string Worker, double RunMs, double QueuedMs, string Json);

    /// <summary>The service as its own process on the tiny preset, as a replica runs in a deployment.</summary>
    sealed class ServiceProcess : IAsyncDisposable
    {
        readonly Process _process;
        readonly Queue<string> _lastLines = new();

        ServiceProcess(Process process, Uri address)
        {
            _process = process;
            Address = address;
        }

        public Uri Address { get; }

        public static async Task<ServiceProcess> StartAsync(string dll, string name, int torchThreads, Dictionary<string, string> settings)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet", [dll])
            {
                WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(dll))!,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
            start.Environment["Model__Preset"] = "tiny";
            start.Environment["Model__Device"] = "cpu";
            // Every edit of a throughput round is queued at once, and waits at most as long as the round takes.
            start.Environment["Queue__Capacity"] = "100000";
            start.Environment["Queue__MaxStoredResults"] = "100000";
            start.Environment["Queue__MaxWaitSeconds"] = "600";
            // A log line per request would cost the 2-core machine as much as the coordination being measured.
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            // libtorch's CPU ops take every core and spin between them: three such workers on two cores would measure
            // their fight over the cores, not the queue. One thread each (the tiny model's tensors are small) is
            // also how workers share a machine where each has its own GPU.
            if (torchThreads > 0) start.Environment["OMP_NUM_THREADS"] = torchThreads.ToString(CultureInfo.InvariantCulture);
            foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;
            var service = new ServiceProcess(new Process { StartInfo = start }, new Uri($"http://127.0.0.1:{port}"));
            service._process.OutputDataReceived += (_, line) => service.Keep(line.Data);
            service._process.ErrorDataReceived += (_, line) => service.Keep(line.Data);
            service._process.Start();
            service._process.BeginOutputReadLine();
            service._process.BeginErrorReadLine();

            using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var deadline = DateTime.UtcNow.AddSeconds(120);
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

        string Output
        {
            get { lock (_lastLines) return string.Join('\n', _lastLines); }
        }

        public async ValueTask DisposeAsync()
        {
            // Every job has finished when a process is stopped, so a kill leaves nothing pending in the consumer group.
            if (!_process.HasExited) _process.Kill();
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }

    /// <summary>A throw-away redis-server: a free loopback port, a temporary directory, no persistence.</summary>
    sealed class RedisProcess : IAsyncDisposable
    {
        readonly Process _process;
        readonly string _directory;

        RedisProcess(Process process, string directory, int port)
        {
            _process = process;
            _directory = directory;
            ConnectionString = $"127.0.0.1:{port}";
            Port = port;
        }

        public string ConnectionString { get; }
        int Port { get; }

        public static async Task<RedisProcess> StartAsync(string path)
        {
            var directory = Directory.CreateTempSubdirectory("ra-scale-redis-").FullName;
            var port = FreePort();
            var process = Process.Start(new ProcessStartInfo(path)
            {
                ArgumentList = { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory,
                    "--save", "", "--appendonly", "no", "--daemonize", "no" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var redis = new RedisProcess(process, directory, port);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!await redis.PingAsync())
            {
                if (process.HasExited || DateTime.UtcNow > deadline)
                {
                    await redis.DisposeAsync();
                    throw new TimeoutException($"{path} did not answer PING on port {port}");
                }
                await Task.Delay(50);
            }
            return redis;
        }

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
            catch (SocketException)
            {
                return false;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill();
            await _process.WaitForExitAsync();
            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
