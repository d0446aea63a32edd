using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using RelationAdapter.TestKit;

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
        var serviceDll = o.String("service", ServiceProcess.FindDll() ?? ServiceProcess.Dll);
        if (!File.Exists(redisPath))
        {
            w.WriteLine($"scale: {redisPath} is missing (apt-get install redis-server), or name it with --redis-server.");
            return 2;
        }
        if (!File.Exists(serviceDll))
        {
            w.WriteLine($"scale: {serviceDll} is missing: build the service (dotnet build src/RelationAdapter.Service), or name the dll with --service.");
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

        await using (var all = await StartServiceAsync(serviceDll, "memory", torchThreads, new() { ["Queue:Backend"] = "memory" }))
        {
            var client = new EditClient(http, all.Address, edit);
            await client.WarmUpAsync(warmup);
            var sequential = await client.SequentialAsync(jobs);
            var throughput = await client.ConcurrentAsync(jobs, rounds);
            rows.Add(Print(w, "memory: 1 process (api + worker)", sequential, throughput));
        }

        var redisSettings = new Dictionary<string, string> { ["Queue:Backend"] = "redis", ["ConnectionStrings:Redis"] = redis.ConnectionString };
        await using (var api = await StartServiceAsync(serviceDll, "api", torchThreads, new(redisSettings) { ["Service:Role"] = "api", ["Service:InstanceName"] = "api" }))
        {
            var client = new EditClient(http, api.Address, edit);
            for (var workerCount = 1; workerCount <= maxWorkers; workerCount++)
            {
                // Fresh workers for each count, so that every count starts from the same state: idle, warmed-up consumers.
                var names = Enumerable.Range(1, workerCount).Select(i => $"worker-{workerCount}-{i}").ToList();
                var workers = await Task.WhenAll(names.Select(name =>
                    StartServiceAsync(serviceDll, name, torchThreads, new(redisSettings) { ["Service:Role"] = "worker", ["Service:InstanceName"] = name })));
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

    /// <summary>
    /// The service as its own process on the tiny preset, as a replica runs in a deployment. Every job has finished
    /// when a process is stopped, so the kill that stops it leaves nothing pending in the consumer group.
    /// </summary>
    static Task<ServiceProcess> StartServiceAsync(string dll, string name, int torchThreads, Dictionary<string, string> settings)
    {
        var all = new Dictionary<string, string>
        {
            ["Model:Device"] = "cpu",
            // Every edit of a throughput round is queued at once, and waits at most as long as the round takes.
            ["Queue:Capacity"] = "100000",
            ["Queue:MaxStoredResults"] = "100000",
            ["Queue:MaxWaitSeconds"] = "600",
            // A log line per request would cost the 2-core machine as much as the coordination being measured.
            ["Logging:LogLevel:Default"] = "Warning",
        };
        // libtorch's CPU ops take every core and spin between them: three such workers on two cores would measure
        // their fight over the cores, not the queue. One thread each (the tiny model's tensors are small) is
        // also how workers share a machine where each has its own GPU.
        if (torchThreads > 0) all["OMP_NUM_THREADS"] = torchThreads.ToString(CultureInfo.InvariantCulture);
        foreach (var (key, value) in settings) all[key] = value;
        return ServiceProcess.StartAsync(all, dll, name, readyWithin: TimeSpan.FromSeconds(120));
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
        readonly byte[] _source = SampleImages.Png(64, 48, 40), _before = SampleImages.Png(64, 48, 0), _after = SampleImages.Png(64, 48, 120);

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
}
