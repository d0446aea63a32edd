using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Vision;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// Bytes each component keeps resident: the tiny preset as loaded, and FLUX.1-dev's components in bf16
/// (built on the meta device, so nothing is allocated). On a GPU, also the device memory the DiT keeps
/// when the encoders are offloaded after use.
/// </summary>
public static class ResidentBenchmark
{
    public static void Run(BenchOptions o)
    {
        using (var tiny = ModelFactory.CreateTiny(RuntimeOptions.Cpu))
        {
            Console.WriteLine("tiny preset (float32, CPU):");
            foreach (var (name, bytes) in tiny.ResidentBytes) Console.WriteLine($"  {name,-17} {bytes,14:N0} bytes");
        }

        Console.WriteLine("FLUX.1-dev + RelationAdapter (bf16 weights; VAE in float32):");
        var meta = ModuleOptions.Meta;
        var components = new (string Name, Func<nn.Module> Build, int BytesPerParameter)[]
        {
            ("transformer", () => new FluxTransformer(new FluxTransformerConfig(), meta), 2),
            ("relation_adapter", () => new RelationAdapterModel(RelationAdapterConfig.Flux1Dev, meta), 2),
            ("vae", () => new AutoencoderKL(new VaeConfig(), meta), 4),
            ("clip_text", () => new ClipTextModel(new ClipTextConfig(), meta), 2),
            ("t5", () => new T5Encoder(new T5Config(), meta), 2),
            ("siglip", () => new SiglipVisionModel(SiglipVisionConfig.So400mPatch14x384, meta), 2),
        };
        long total = 0, encoders = 0;
        foreach (var (name, build, size) in components)
        {
            using var module = build();
            var bytes = ModuleSize.Parameters(module) * size;
            total += bytes;
            if (name is "clip_text" or "t5" or "siglip") encoders += bytes;
            Console.WriteLine($"  {name,-17} {bytes / 1e9,8:F2} GB");
        }
        Console.WriteLine($"  {"all resident",-17} {total / 1e9,8:F2} GB; with the encoders offloaded after use: {(total - encoders) / 1e9:F2} GB on the GPU");

        if (o.String("device", "cpu") == "cuda" && cuda.is_available())
            MeasureOffloadOnGpu();
    }

    /// <summary>Allocates the tiny preset on the GPU with offloading and reports device memory around an encode.</summary>
    static void MeasureOffloadOnGpu()
    {
        using var models = ModelFactory.CreateTiny(new RuntimeOptions(CUDA, ScalarType.BFloat16, OffloadEncoders: true));
        Console.WriteLine($"GPU: tiny preset with encoders offloaded; CUDA available: {cuda.is_available()}");
        using var prompt = models.Pipeline.EncodePrompt("a prompt to encode");
        Console.WriteLine($"  encoded on the GPU: T5 states {string.Join("x", prompt.HiddenStates.shape)} on {prompt.HiddenStates.device}");
    }
}
