using System.Diagnostics;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Vae;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// Decodes one latent with the FLUX VAE's architecture (random weights) tiled and untiled, and prints the
/// time and how much the process's peak RSS grew for each: tiled decoding should only need one tile's
/// activations beyond the output.
/// </summary>
public static class VaeBenchmark
{
    public static void Run(BenchOptions o)
    {
        var size = o.Int("size", 512);
        var tile = o.Int("tile", 32);
        using var _ = no_grad();
        using var vae = ModelFactory.Randomize(new AutoencoderKL(new VaeConfig(), ModuleOptions.CpuFloat32), new Generator(0));
        using var latents = randn(1, 16, size / 8, size / 8);
        Console.WriteLine($"FLUX VAE decoder, {size}x{size} output, tile {tile} latent cells ({tile * 8} px), overlap 0.25");
        Measure1("tiled  ", () => vae.Decode(latents, new VaeTiling(tile)));
        Measure1("untiled", () => vae.Decode(latents));
    }

    static void Measure1(string label, Func<Tensor> decode)
    {
        var before = Measure.PeakRss();
        var clock = Stopwatch.StartNew();
        using (decode()) { }
        Console.WriteLine($"{label}: {clock.Elapsed.TotalSeconds:F1} s, peak RSS grew by {Measure.Gb(Math.Max(0, Measure.PeakRss() - before))}");
    }
}
