using System.Diagnostics;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// Times one DiT denoising step (median of N after warm-up) at a configurable size, counts its FLOPs,
/// and compares the achieved rate with the machine's float32 GEMM rate measured in the same process.
/// Also reports the once-per-job preparation that the reference redoes at every step.
/// </summary>
public static class DitBenchmark
{
    public static void Run(BenchOptions o)
    {
        var threads = o.Int("threads", 0);
        if (threads > 0) set_num_threads(threads);
        var device = new Device(o.String("device", "cpu"));
        var width = o.Int("width", 512);
        var heads = o.Int("heads", 4);
        var config = new FluxTransformerConfig
        {
            NumAttentionHeads = heads,
            AttentionHeadDim = width / heads,
            NumLayers = o.Int("double", 4),
            NumSingleLayers = o.Int("single", 8),
            JointAttentionDim = o.Int("context-dim", 4096),
        };
        var imageTokens = o.Int("image-tokens", 512);
        var textTokens = o.Int("text-tokens", 64);
        var relationTokens = o.Int("relation-tokens", 32);
        var warmup = o.Int("warmup", 2);
        var iterations = o.Int("iterations", 10);
        var dtype = device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
        var options = new ModuleOptions(device, dtype);
        var generator = new Generator(0);

        using var _ = no_grad();
        using var model = ModelFactory.Randomize(new FluxTransformer(config, options), generator);
        using var adapter = ModelFactory.Randomize(new RelationAdapterModel(
            new RelationAdapterConfig(1152, config.JointAttentionDim, relationTokens / 2, config.InnerDim, config.AttentionLayerCount), options), generator);
        using var hidden = randn(1, imageTokens, config.InChannels, generator: generator).to(device);
        using var prompt = randn(1, textTokens, config.JointAttentionDim, generator: generator);
        using var pooled = randn(1, config.PooledProjectionDim, generator: generator);
        using var tokens = randn(1, relationTokens, config.JointAttentionDim, generator: generator);
        using var imageIds = randint(0, 64, [imageTokens, 3], generator: generator).to(ScalarType.Float32);
        using var textIds = zeros(textTokens, 3);
        using var guidance = full([1], 3.5f);
        using var timestep = full([1], 0.5f).to(device);

        DenoiseContext Prepare() => model.Prepare(prompt, pooled, guidance, textIds, imageIds, adapter.Project(tokens, heads, [1.0]));
        void Sync() { if (device.type == DeviceType.CUDA) cuda.synchronize(); }

        var prepareTimes = new List<double>();
        DenoiseContext? job = null;
        for (var i = 0; i < 3; i++)
        {
            job?.Dispose();
            var clock = Stopwatch.StartNew();
            job = Prepare();
            Sync();
            prepareTimes.Add(clock.Elapsed.TotalSeconds);
        }

        var stepTimes = new List<double>();
        for (var i = 0; i < warmup + iterations; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var velocity = model.forward(hidden, timestep, job!)) Sync();
            if (i >= warmup) stepTimes.Add(clock.Elapsed.TotalSeconds);
        }
        job!.Dispose();

        var step = Measure.Median(stepTimes);
        var prepare = Measure.Median(prepareTimes);
        var flops = StepFlops(config, imageTokens, textTokens, relationTokens);
        var gemm = GemmRate(device, dtype);
        var achieved = flops / step;
        Console.WriteLine($"device {device.type}, dtype {dtype}, threads {get_num_threads()}");
        Console.WriteLine($"size: width {width} ({heads} heads x {width / heads}), {config.NumLayers} double + {config.NumSingleLayers} single blocks, " +
                          $"{imageTokens} image + {textTokens} text tokens, {relationTokens} relation tokens");
        Console.WriteLine($"DiT step      : {step * 1e3:F2} ms median of {iterations} (after {warmup} warm-up)");
        Console.WriteLine($"FLOPs / step  : {flops / 1e9:F2} GFLOP");
        Console.WriteLine($"achieved      : {achieved / 1e9:F1} GFLOP/s");
        Console.WriteLine($"GEMM rate     : {gemm / 1e9:F1} GFLOP/s ({dtype} matmul 2048^3)");
        Console.WriteLine($"ratio         : {achieved / gemm:F2} of the GEMM rate (target >= 0.50)");
        Console.WriteLine($"per-job work  : {prepare * 1e3:F2} ms (context projection, guidance/text embeddings, RoPE, relation K/V of " +
                          $"{config.AttentionLayerCount} layers): saved at every step after the first, {prepare / step * 100:F1}% of a step");
    }

    /// <summary>Multiply-adds ×2 of one step: every linear layer and both attention products.</summary>
    public static double StepFlops(FluxTransformerConfig c, long image, long text, long relation)
    {
        double w = c.InnerDim, s = image, t = text, l = image + text, r = relation;
        var conditioning = 2 * (256 * w + w * w) * (c.GuidanceEmbeds ? 1 : 1) + 2 * (2 * w * 6 * w) * c.NumLayers + 2 * w * 3 * w * c.NumSingleLayers + 2 * w * 2 * w;
        var embed = 2 * s * c.InChannels * w + 2 * s * w * c.OutChannels;
        var doubleBlock = 24 * (s + t) * w * w + 4 * l * l * w + 4 * s * r * w;
        var singleBlock = 24 * l * w * w + 4 * l * l * w + 4 * l * r * w;
        return conditioning + embed + c.NumLayers * doubleBlock + c.NumSingleLayers * singleBlock;
    }

    static double GemmRate(Device device, ScalarType dtype)
    {
        const int n = 2048;
        using var a = randn(n, n).to(dtype, device);
        using var b = randn(n, n).to(dtype, device);
        var times = new List<double>();
        for (var i = 0; i < 7; i++)
        {
            var clock = Stopwatch.StartNew();
            using (var c = a.matmul(b)) if (device.type == DeviceType.CUDA) cuda.synchronize();
            if (i >= 2) times.Add(clock.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / Measure.Median(times);
    }
}
