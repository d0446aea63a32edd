using System.Diagnostics;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Training;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// One training step of the adapter and the LoRA (the flow-matching loss, backward, clipping, AdamW) at an
/// edit's shapes with random weights: the median step time and peak memory (GPU: device-wide, as nvidia-smi
/// reports it; CPU: peak RSS). No encoders: their outputs are what <c>--cache-dir</c> stores, drawn at random here.
/// </summary>
public static class TrainBenchmark
{
    public static int Run(BenchOptions o, TextWriter? output = null)
    {
        var w = output ?? Console.Out;
        var threads = o.Int("threads", 0);
        if (threads > 0) set_num_threads(threads);
        if (!o.TryDevice(w, "cpu", out var onCuda)) return 2;
        var sizes = RandomModelSizes.Named(o.String("preset", onCuda ? "flux1-dev" : "tiny"));
        var side = o.Int("size", sizes.Name == "tiny" ? 64 : 512);
        var rank = o.Int("rank", sizes.Name == "tiny" ? 4 : 128);
        var steps = o.Int("steps", 5);
        var train = Enum.Parse<TrainedParts>(o.String("train", "both"), ignoreCase: true);
        var checkpointing = o.Bool("checkpointing", false);
        var device = onCuda ? CUDA : CPU;
        var options = new ModuleOptions(device, onCuda ? ScalarType.BFloat16 : ScalarType.Float32);
        using var memory = onCuda ? DeviceMemory.TryStart() : null;

        var load = Stopwatch.StartNew();
        using var transformer = ModelFactory.RandomizeByName(new FluxTransformer(sizes.Transformer, options), 1);
        transformer.GradientCheckpointing = checkpointing;
        using var adapter = ModelFactory.RandomizeByName(new RelationAdapterModel(sizes.Adapter, options), 2);
        foreach (var (_, parameter) in adapter.named_parameters()) parameter.requires_grad = train != TrainedParts.Lora;
        using var lora = train == TrainedParts.Adapter ? null : new TransformerLora(transformer, rank, rank, new Generator(3));
        var trainable = new List<(string, TorchSharp.Modules.Parameter)>();
        if (train != TrainedParts.Lora) trainable.AddRange(adapter.named_parameters().Select(p => (p.name, p.parameter)));
        if (lora is not null) trainable.AddRange(lora.NamedParameters());
        using var optimizer = new AdamW(trainable, 0.9, 0.999, 1e-8, 1e-4);
        var latentSide = 2L * (side / 16);
        var tokens = latentSide / 2 * (latentSide / 2);
        using var generator = new Generator(4);
        Tensor Draw(params long[] shape) => randn(shape, generator: generator);
        using var example = new EncodedExample("bench", Draw(1, 512, sizes.Transformer.JointAttentionDim), Draw(1, sizes.Transformer.PooledProjectionDim),
            Draw(2, sizes.Adapter.ImageDim), Draw(1, tokens, sizes.Transformer.InChannels), Draw(1, tokens, sizes.Transformer.InChannels).abs() * 0.01,
            Draw(1, tokens, sizes.Transformer.InChannels), Draw(1, tokens, sizes.Transformer.InChannels).abs() * 0.01, latentSide, latentSide);
        var objective = new FlowMatchingObjective(transformer, adapter, 3.5, TimestepSampling.LogitNormal);
        if (onCuda) cuda.synchronize();
        w.WriteLine($"train step: {sizes.Name} at {side}x{side} ({2 * tokens} image tokens + 512 text), {train}, rank {rank}, " +
                    $"checkpointing {(checkpointing ? "on" : "off")}, " +
                    $"{trainable.Sum(p => p.Item2.NumberOfElements):N0} trainable parameters, on {device.type}; set up in {load.Elapsed.TotalSeconds:F1}s");

        var times = new List<double>();
        for (var step = 0; step < steps; step++)
        {
            var clock = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                using var noise = new Generator((ulong)step);
                var loss = objective.Loss(example, noise);
                loss.backward();
                optimizer.ClipGradients(1.0);
                optimizer.Step(1e-4);
                optimizer.ZeroGrad();
                if (onCuda) cuda.synchronize();
            }
            times.Add(clock.Elapsed.TotalSeconds);
            w.WriteLine($"  step {step + 1}: {times[^1]:F3}s");
        }
        w.WriteLine($"median step (after the first): {Measure.Median(times.Count > 1 ? times.Skip(1) : times):F3}s");
        w.WriteLine(memory is not null
            ? $"peak GPU memory (device-wide): {Measure.Gb(memory.Peak)}"
            : $"peak RSS: {Measure.Gb(Measure.PeakRss())}");
        return 0;
    }
}
