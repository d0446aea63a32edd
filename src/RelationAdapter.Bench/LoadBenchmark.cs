using System.Diagnostics;
using System.Text.Json;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Vision;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// Full-scale loading: writes random weights in the real layouts (the diffusers FLUX.1-dev folder with a
/// sharded transformer and T5, CLIP, the VAE, tokenizers and scheduler; the SigLIP folder; the adapter's
/// torch.save .bin; a PEFT LoRA of rank 128 on every block linear layer), then loads everything through
/// <see cref="ModelFactory.Load"/> as the service does, and prints the load time, the peak host RSS and
/// the GPU memory. <c>--preset tiny</c> writes the same layout at the tiny preset's sizes.
/// </summary>
public static class LoadBenchmark
{
    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static int Run(BenchOptions o, TextWriter? output = null)
    {
        var w = output ?? Console.Out;
        if (!o.TryDevice(w, "cpu", out var onCuda)) return 2;
        var preset = o.String("preset", onCuda ? "flux1-dev" : "tiny");
        var sizes = RandomModelSizes.Named(preset);
        var root = o.String("dir", Path.Combine(Path.GetTempPath(), "ra-load-" + Environment.ProcessId));
        var rank = o.Int("lora-rank", preset == "tiny" ? 4 : 128);
        var precision = RuntimeOptions.ParsePrecision(o.String("precision", "bf16"));
        var offload = o.Bool("offload", true);
        var keep = o.Bool("keep", false);
        var editSteps = o.Int("edit-steps", 2);
        var runtime = RuntimeOptions.ForDevice(onCuda ? "cuda" : "cpu", offload, precision: precision);
        using var memory = onCuda ? DeviceMemory.TryStart() : null;

        try
        {
            var clock = Stopwatch.StartNew();
            var paths = Write(root, sizes, rank, o.Long("shard-bytes", 10L << 30));
            var written = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            w.WriteLine($"wrote {preset} weights in the real layouts under {root}: {Measure.Size(written)} in {clock.Elapsed.TotalSeconds:F1} s");

            var rssBefore = Measure.CurrentRss();
            clock.Restart();
            using (var models = ModelFactory.Load(paths, runtime))
            {
                if (onCuda) cuda.synchronize();
                var seconds = clock.Elapsed.TotalSeconds;
                w.WriteLine($"full-scale load ({models.Description}): {seconds:F1} s ({written / seconds / 1e9:F2} GB/s of files)");
                w.WriteLine($"full-scale load: peak host RSS {Measure.Gb(Measure.PeakRss())} (before the load {Measure.Gb(rssBefore)})");
                if (memory is not null)
                    w.WriteLine($"full-scale load: GPU memory after the load {Measure.Gb(memory.Used)}, peak {Measure.Gb(memory.Peak)} (NVML, device-wide; " +
                                $"before {Measure.Gb(memory.Baseline)})");
                foreach (var (name, bytes) in models.ResidentBytes) w.WriteLine($"  {name,-17} {Measure.Size(bytes)}");
                if (editSteps > 0) Edit(w, models, editSteps, o.Int("edit-size", preset == "tiny" ? 48 : 256), onCuda);
            }
            return 0;
        }
        finally
        {
            if (!keep && Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>A short edit through the loaded models, to show that every loaded piece is wired up.</summary>
    static void Edit(TextWriter w, LoadedModels models, int steps, int side, bool onCuda)
    {
        using var source = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(side, side);
        using var exemplar = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(64, 48);
        var clock = Stopwatch.StartNew();
        var result = models.Pipeline.Run(new EditRequest
        {
            Source = source, PromptImage = exemplar, ReferenceImage = exemplar,
            Settings = new EditSettings { Prompt = "a loaded model", Steps = steps, MaxSide = side },
        });
        if (onCuda) cuda.synchronize();
        result.Image.Dispose();
        w.WriteLine($"edit with the loaded weights: {result.Width}x{result.Height}, {steps} steps in {clock.Elapsed.TotalSeconds:F1} s " +
                    $"(includes the first-use costs of every encoder)");
    }

    static List<TensorSpec> Specs(nn.Module module, ScalarType dtype, string prefix = "") =>
        module.named_parameters().Select(p => new TensorSpec(prefix + p.name, dtype, p.parameter.shape)).ToList();

    static void Config(string path, object config)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, JsonSerializer.Serialize(config, config.GetType(), Snake));
    }

    /// <summary>Writes every file the service's <c>flux1-dev</c> preset reads; returns the paths to configure.</summary>
    public static ModelPaths Write(string root, RandomModelSizes sizes, int loraRank, long shardBytes)
    {
        var meta = ModuleOptions.Meta;
        var flux = Path.Combine(root, "FLUX.1-dev");
        var siglipDir = Path.Combine(root, "siglip-so400m-patch14-384");
        var adapterDir = Path.Combine(root, "RelationAdapter");
        foreach (var dir in new[] { "transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler" })
            Directory.CreateDirectory(Path.Combine(flux, dir));
        Directory.CreateDirectory(siglipDir);
        Directory.CreateDirectory(adapterDir);
        File.WriteAllText(Path.Combine(flux, "model_index.json"), """{"_class_name": "FluxPipeline"}""");

        var bf16 = ScalarType.BFloat16;
        using (var transformer = new FluxTransformer(sizes.Transformer, meta))
        {
            Config(Path.Combine(flux, "transformer", "config.json"), sizes.Transformer);
            CheckpointWriters.WriteSharded(Path.Combine(flux, "transformer"), "diffusion_pytorch_model", Specs(transformer, bf16), shardBytes);
            var lora = new List<TensorSpec>();
            foreach (var (name, module) in transformer.named_modules())
                if (module is Linear linear && name.Contains("transformer_blocks.", StringComparison.Ordinal))
                {
                    lora.Add(new TensorSpec($"transformer.{name}.lora_A.weight", bf16, [loraRank, linear.InFeatures]));
                    lora.Add(new TensorSpec($"transformer.{name}.lora_B.weight", bf16, [linear.OutFeatures, loraRank]));
                }
            CheckpointWriters.WriteSafetensors(Path.Combine(adapterDir, "pytorch_lora_weights.safetensors"), lora);
        }
        using (var vae = new AutoencoderKL(sizes.Vae, meta))
        {
            Config(Path.Combine(flux, "vae", "config.json"), sizes.Vae);
            CheckpointWriters.WriteSafetensors(Path.Combine(flux, "vae", "diffusion_pytorch_model.safetensors"), Specs(vae, ScalarType.Float32));
        }
        using (var clip = new ClipTextModel(sizes.Clip with { EosTokenId = 2 }, meta))
        {
            Config(Path.Combine(flux, "text_encoder", "config.json"), sizes.Clip with { EosTokenId = 2 });
            CheckpointWriters.WriteSafetensors(Path.Combine(flux, "text_encoder", "model.safetensors"), Specs(clip, bf16, "text_model."));
        }
        using (var t5 = new T5Encoder(sizes.T5, meta))
        {
            Config(Path.Combine(flux, "text_encoder_2", "config.json"), sizes.T5);
            var specs = Specs(t5.encoder, bf16, "encoder.").Append(new TensorSpec("shared.weight", bf16, t5.shared.weight.shape)).ToList();
            CheckpointWriters.WriteSharded(Path.Combine(flux, "text_encoder_2"), "model", specs, shardBytes / 2);
        }
        Config(Path.Combine(flux, "scheduler", "scheduler_config.json"), new SchedulerConfig());
        WriteClipTokenizer(Path.Combine(flux, "tokenizer"));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TestData", "spiece.model"), Path.Combine(flux, "tokenizer_2", "spiece.model"), overwrite: true);

        using (var siglip = new SiglipVisionModel(sizes.Siglip, meta))
        {
            Config(Path.Combine(siglipDir, "config.json"), new { vision_config = JsonSerializer.SerializeToNode(sizes.Siglip, Snake) });
            File.WriteAllText(Path.Combine(siglipDir, "preprocessor_config.json"),
                $$"""{"size": {"height": {{sizes.Siglip.ImageSize}}, "width": {{sizes.Siglip.ImageSize}}}, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}""");
            CheckpointWriters.WriteSafetensors(Path.Combine(siglipDir, "model.safetensors"), Specs(siglip, bf16, "vision_model."));
        }
        using (var adapter = new RelationAdapterModel(sizes.Adapter, meta))
        {
            var groups = new Dictionary<string, IReadOnlyList<TensorSpec>>
            {
                ["image_proj"] = Specs(adapter.image_proj, bf16),
                ["ip_adapter"] = Specs(adapter.ip_adapter, bf16),
            };
            CheckpointWriters.WriteTorchZip(Path.Combine(adapterDir, "ip_adapter-100000.bin"), groups);
        }
        return new ModelPaths(flux, siglipDir, Path.Combine(adapterDir, "ip_adapter-100000.bin"), Path.Combine(adapterDir, "pytorch_lora_weights.safetensors"));
    }

    /// <summary>A byte-level BPE vocabulary of the 256 byte symbols (and their end-of-word forms) with CLIP's specials, no merges.</summary>
    static void WriteClipTokenizer(string dir)
    {
        var bytes = Enumerable.Range(33, 94).Concat(Enumerable.Range(161, 12)).Concat(Enumerable.Range(174, 82)).ToList();
        var symbols = new List<char>();
        var extra = 0;
        for (var b = 0; b < 256; b++) symbols.Add(bytes.Contains(b) ? (char)b : (char)(256 + extra++));
        var vocabulary = new Dictionary<string, int>();
        foreach (var s in symbols) vocabulary[s.ToString()] = vocabulary.Count;
        foreach (var s in symbols) vocabulary[s + "</w>"] = vocabulary.Count;
        vocabulary["<|startoftext|>"] = vocabulary.Count;
        vocabulary["<|endoftext|>"] = vocabulary.Count;
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(vocabulary));
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
    }
}
