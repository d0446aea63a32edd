using System.Diagnostics;
using System.Globalization;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// The whole edit (prompt, relation, source encoding, denoising, decoding) at FLUX.1-dev shapes with random
/// weights drawn on the device, or at the tiny preset's. Prints the time of each stage (the device is
/// synchronised at every stage change and step), the median step, the DiT's weight bytes and peak memory.
/// For float8 or a step cache it then runs the bf16, uncached edit with the same seed and prints the
/// relative L2 distance of the final latents and the speed-up.
/// </summary>
public static class EditBenchmark
{
    sealed record Outcome(double LoadSeconds, long DitBytes, IReadOnlyList<(string Stage, double Seconds)> Stages, IReadOnlyList<double> Steps,
        DenoiseSteps Counts, Tensor Latents, long PeakBytes, long LoadedBytes, string MemorySource)
    {
        public double Denoise => Stages.First(s => s.Stage == "denoise").Seconds;

        /// <summary>The median step, leaving out the first (it also projects the relation keys and values).</summary>
        public double MedianStep => Measure.Median(Steps.Count > 1 ? Steps.Skip(1) : Steps);
    }

    public static int Run(BenchOptions o, TextWriter? output = null)
    {
        var w = output ?? Console.Out;
        var threads = o.Int("threads", 0);
        if (threads > 0) set_num_threads(threads);
        if (!o.TryDevice(w, "cpu", out var onCuda)) return 2;
        var preset = o.String("preset", onCuda ? "flux1-dev" : "tiny");
        var sizes = RandomModelSizes.Named(preset);
        var side = o.Int("size", preset == "tiny" ? 64 : 512);
        var steps = o.Int("steps", preset == "tiny" ? 8 : 24);
        var precision = RuntimeOptions.ParsePrecision(o.String("precision", "bf16"));
        var threshold = o.Double("cache-threshold", 0);
        var batch = o.Int("batch", 1);
        var offload = o.Bool("offload", false);
        var seed = o.Int("seed", 42);
        var warmupSteps = o.Int("warmup-steps", onCuda ? 2 : 1);
        var compare = o.Bool("compare", true);
        if (onCuda)
        {
            var tf32 = o.Bool("tf32", false);
            backends.cuda.matmul.allow_tf32 = tf32;
            backends.cudnn.allow_tf32 = tf32;
        }

        var runtime = RuntimeOptions.ForDevice(onCuda ? "cuda" : "cpu", offload, promptCacheCapacity: 0, precision: precision);
        using var source = Gradient(side, side, 0);
        using var before = Gradient(512, 384, 40);
        using var after = Gradient(512, 384, 160);
        var request = new EditRequest
        {
            // A batch of sources, as one request with several source_image parts runs them: one DiT batch.
            Source = source, MoreSources = Enumerable.Repeat(source, batch - 1).ToList(), PromptImage = before, ReferenceImage = after,
            Settings = new EditSettings { Prompt = "make it look like the example", Steps = steps, Seed = seed, MaxSide = side, CacheThreshold = threshold },
        };
        using var memory = onCuda ? DeviceMemory.TryStart() : null;

        w.WriteLine($"edit benchmark: preset {preset}, device {(onCuda ? "cuda" : "cpu")} ({runtime.DType}), DiT precision {Name(precision, runtime.DType)}, " +
                          $"{side}x{side}, {steps} steps, batch {batch}, cache threshold {threshold.ToString(CultureInfo.InvariantCulture)}, " +
                          $"offload encoders {offload}, seed {seed}, threads {get_num_threads()}");
        var measured = Execute(sizes, runtime, request, warmupSteps, seed, memory);
        Print(w, "", measured, steps);
        w.WriteLine($"seconds per image: {measured.Stages.Sum(stage => stage.Seconds) / batch:F3} s ({batch} source{(batch == 1 ? "" : "s")} in one DiT batch)");

        if (compare && (precision == DitPrecision.Fp8 || threshold > 0))
        {
            var reference = Execute(sizes, runtime with { Precision = DitPrecision.Native }, request with { Settings = request.Settings with { CacheThreshold = 0 } }, warmupSteps, seed, memory);
            Print(w, $"reference ({Name(DitPrecision.Native, runtime.DType)}, no cache): ", reference, steps);
            var error = Measure.RelativeL2(measured.Latents, reference.Latents);
            w.WriteLine($"relL2 vs bf16: {error:E3} (final latents of the noise half; reference {Name(DitPrecision.Native, runtime.DType)} without cache, same seed {seed})");
            w.WriteLine($"speedup: denoise {reference.Denoise / measured.Denoise:F2}x ({reference.Denoise:F3} s -> {measured.Denoise:F3} s), " +
                              $"median step {measured.MedianStep / reference.MedianStep:F2} of the reference's");
            reference.Latents.Dispose();
        }
        measured.Latents.Dispose();
        if (Core.Layers.Fp8.RowWiseFailure is { } failure) w.WriteLine($"fp8 note: row-wise scaled GEMM refused, per-tensor fallback used: {failure}");
        return 0;
    }

    static Outcome Execute(RandomModelSizes sizes, RuntimeOptions runtime, EditRequest request, int warmupSteps, long seed, DeviceMemory? memory)
    {
        var onCuda = runtime.Device.type == DeviceType.CUDA;
        var clock = Stopwatch.StartNew();
        using var models = ModelFactory.CreateRandom(sizes, runtime, seed);
        if (onCuda) cuda.synchronize();
        var load = clock.Elapsed.TotalSeconds;
        var loaded = memory?.Used ?? Measure.CurrentRss();
        if (warmupSteps > 0)
            using (models.Pipeline.RunToTensors(request with { Settings = request.Settings with { Steps = warmupSteps } })) { }
        memory?.ResetPeak();

        var progress = new StageClock(onCuda);
        var tensors = models.Pipeline.RunToTensors(request, progress);
        progress.Finish();
        var peak = memory?.Peak ?? Measure.PeakRss();
        var noise = tensors.PackedLatents.narrow(1, 0, tensors.PackedLatents.shape[1] / 2).to(ScalarType.Float64).cpu();
        var result = new Outcome(load, ModuleSize.Bytes(models.Models.Transformer), progress.Stages(), progress.Steps(), tensors.Steps,
            noise.DetachFromDisposeScope(), peak, loaded, memory is null ? "peak RSS of the process" : "NVML, device-wide, as nvidia-smi");
        tensors.Dispose();
        return result;
    }

    static void Print(TextWriter w, string label, Outcome run, int steps)
    {
        w.WriteLine($"{label}load (random init on the device): {run.LoadSeconds:F2} s; DiT weights {Measure.Size(run.DitBytes)}");
        foreach (var (stage, seconds) in run.Stages) w.WriteLine($"{label}stage {stage,-15}: {seconds * 1e3,10:F1} ms");
        w.WriteLine($"{label}median step: {run.MedianStep * 1e3:F1} ms (first step {run.Steps[0] * 1e3:F1} ms; {steps} steps: " +
                          $"{run.Counts.Computed} computed, {run.Counts.Reused} reused)");
        w.WriteLine($"{label}memory after load: {Measure.Gb(run.LoadedBytes)}; peak during the edit: {Measure.Gb(run.PeakBytes)} ({run.MemorySource})");
    }

    static string Name(DitPrecision precision, ScalarType dtype) =>
        precision == DitPrecision.Fp8 ? "fp8" : dtype == ScalarType.BFloat16 ? "bf16" : dtype.ToString().ToLowerInvariant();

    /// <summary>A deterministic test image: colour ramps shifted by <paramref name="phase"/>.</summary>
    public static Image<Rgb24> Gradient(int width, int height, int phase = 0)
    {
        var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            image[x, y] = new Rgb24((byte)(x * 255 / width), (byte)((y * 255 / height + phase) % 256), (byte)((x + y + phase) % 256));
        return image;
    }

    /// <summary>Timestamps every stage change and step, after waiting for the device to finish the work queued so far.</summary>
    sealed class StageClock(bool synchronize) : IProgress<EditProgress>
    {
        readonly Stopwatch _clock = Stopwatch.StartNew();
        readonly List<(EditStage Stage, int Step, double At)> _events = [];
        double _end;

        public void Report(EditProgress value)
        {
            if (synchronize) cuda.synchronize();
            _events.Add((value.Stage, value.Step, _clock.Elapsed.TotalSeconds));
        }

        public void Finish()
        {
            if (synchronize) cuda.synchronize();
            _end = _clock.Elapsed.TotalSeconds;
        }

        public IReadOnlyList<(string, double)> Stages()
        {
            var starts = _events.GroupBy(e => e.Stage).Select(g => (g.Key, g.First().At)).ToList();
            return starts.Select((s, i) => (System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(s.Key.ToString()),
                (i + 1 < starts.Count ? starts[i + 1].At : _end) - s.At)).ToList();
        }

        public IReadOnlyList<double> Steps()
        {
            var denoise = _events.Where(e => e.Stage == EditStage.Denoise).Select(e => e.At).ToList();
            return denoise.Zip(denoise.Skip(1), (a, b) => b - a).ToList();
        }
    }
}
