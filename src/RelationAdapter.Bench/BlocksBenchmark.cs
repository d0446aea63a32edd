using System.Diagnostics;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// The C# counterpart of <c>flux_peer.py SIDE STEPS blocks</c>: one double and one single block at the
/// token counts of a SIDE×SIDE edit (2N image + 512 text tokens, 256 relation tokens), with and without
/// the relation branch, so the two can be compared block by block in the same device call. Also prints
/// how long the host takes to queue one block's kernels: when that approaches the block's device time,
/// the step is bound by the host, not by the GPU.
/// </summary>
public static class BlocksBenchmark
{
    public static int Run(BenchOptions o, TextWriter? output = null)
    {
        var w = output ?? Console.Out;
        if (!o.TryDevice(w, "cpu", out var onCuda)) return 2;
        var device = onCuda ? CUDA : CPU;
        var dtype = onCuda ? ScalarType.BFloat16 : ScalarType.Float32;
        var side = o.Int("size", onCuda ? 512 : 128);
        var width = o.Int("width", onCuda ? 3072 : 256);
        var heads = o.Int("heads", onCuda ? 24 : 2);
        var textTokens = o.Int("text-tokens", onCuda ? 512 : 64);
        var relationTokens = o.Int("relation-tokens", 256);
        var contextDim = o.Int("context-dim", onCuda ? 4096 : 512);
        var iterations = o.Int("iterations", onCuda ? 20 : 3);
        var fp8 = RuntimeOptions.ParsePrecision(o.String("precision", "bf16")) == DitPrecision.Fp8;
        var headDim = width / heads;
        var imageTokens = 2L * (side / 16) * (side / 16);
        var options = new ModuleOptions(device, dtype);

        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var doubleBlock = ModelFactory.RandomizeByName(new DoubleStreamBlock(width, heads, headDim, options), 1);
        var singleBlock = ModelFactory.RandomizeByName(new SingleStreamBlock(width, heads, headDim, options), 2);
        if (fp8)
            foreach (var linear in doubleBlock.modules().Concat(singleBlock.modules()).OfType<Linear>())
                linear.QuantizeToFp8(device);
        var adapter = ModelFactory.RandomizeByName(new RelationAttention(contextDim, width, options), 3);
        using var relation = adapter.Project(randn(1, relationTokens, contextDim, dtype, device), heads, null);

        var axes = headDim == 128 ? new[] { 16, 56, 56 } : new[] { headDim / 8, headDim * 7 / 16, headDim * 7 / 16 };
        var (cos, sin) = Rope.Tables(cat([zeros(textTokens, 3), Packing.ClonedImageIds(side / 8, side / 8)], 0).to(device), axes);
        var rope = new Rotary(cos, sin);
        var image = randn(1, imageTokens, width, dtype, device);
        var context = randn(1, textTokens, width, dtype, device);
        var joint = randn(1, imageTokens + textTokens, width, dtype, device);
        using var temb = new SharedInput(nn.functional.silu(randn(1, width, dtype, device)));

        void Sync() { if (onCuda) cuda.synchronize(); }
        (double Device, double Host) Time(Func<IDisposable> call)
        {
            for (var i = 0; i < 3; i++) call().Dispose();
            Sync();
            var host = new List<double>();
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < iterations; i++)
            {
                var start = clock.Elapsed.TotalMilliseconds;
                call().Dispose();
                host.Add(clock.Elapsed.TotalMilliseconds - start);
            }
            Sync();
            return (clock.Elapsed.TotalMilliseconds / iterations, Measure.Median(host));
        }
        IDisposable Double(RelationKeysValues? r)
        {
            var (x, c) = doubleBlock.forward(image, context, temb, rope, r);
            c.Dispose();
            return x;
        }

        var d = Time(() => Double(relation));
        var dn = Time(() => Double(null));
        var s = Time(() => singleBlock.forward(joint, temb, rope, relation));
        var sn = Time(() => singleBlock.forward(joint, temb, rope, null));
        w.WriteLine($"blocks at {side}x{side}: {imageTokens} image + {textTokens} text tokens, {relationTokens} relation tokens, width {width} ({heads} heads), " +
                    $"{(onCuda ? "cuda" : "cpu")} {dtype}{(fp8 ? ", fp8 weights" : "")}, {iterations} iterations");
        w.WriteLine($"BLOCKS cs: double {d.Device:F2} ms (no relation {dn.Device:F2}), single {s.Device:F2} ms (no relation {sn.Device:F2}); " +
                    $"x19/x38 = {19 * d.Device + 38 * s.Device:F1} ms");
        w.WriteLine($"host time to queue one block (median): double {d.Host:F3} ms, single {s.Host:F3} ms " +
                    $"({(onCuda ? "the GPU is the bottleneck while these stay well below the device times" : "the CPU runs the kernels itself")})");
        if (Core.Layers.Fp8.RowWiseFailure is { } failure) w.WriteLine($"fp8 note: row-wise scaled GEMM refused, per-tensor fallback used: {failure}");
        return 0;
    }
}
