using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Vision;
using RelationAdapter.Core.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Runtime;

public static class ModelFactory
{
    public static LoadedModels Load(ModelPaths paths, RuntimeOptions runtime)
    {
        var owned = new List<IDisposable>();
        try
        {
            var dit = new ModuleOptions(runtime.Device, runtime.DType);
            var encoderOptions = new ModuleOptions(runtime.OffloadEncoders ? CPU : runtime.Device, runtime.DType);
            var placement = new ComputePlacement(runtime.Device, runtime.OffloadEncoders);
            var flux = paths.FluxDirectory;

            var transformer = Own(owned, FluxLoading.LoadTransformer(Path.Combine(flux, "transformer"), dit, paths.LoraPath));
            var adapter = Own(owned, FluxLoading.LoadAdapter(paths.AdapterPath, dit));
            var vae = Own(owned, AutoencoderKL.Load(Path.Combine(flux, "vae"), new ModuleOptions(runtime.Device, ScalarType.Float32)));
            var scheduler = DiffusersConfig.Read<SchedulerConfig>(Path.Combine(flux, "scheduler", "scheduler_config.json"));
            var prompts = Own(owned, new FluxPromptEncoder(
                ClipTokenizer.Load(Path.Combine(flux, "tokenizer")),
                EncoderLoading.LoadClipText(Path.Combine(flux, "text_encoder"), encoderOptions),
                T5Tokenizer.Load(Path.Combine(flux, "tokenizer_2", "spiece.model")),
                EncoderLoading.LoadT5(Path.Combine(flux, "text_encoder_2"), encoderOptions),
                placement));
            var siglip = Own(owned, new SiglipExemplarEncoder(
                SiglipImageProcessor.Read(Path.Combine(paths.SiglipDirectory, "preprocessor_config.json")),
                EncoderLoading.LoadSiglipVision(paths.SiglipDirectory, encoderOptions),
                placement));
            var adapterFile = new FileInfo(paths.AdapterPath);
            return Assemble(transformer, adapter, vae, scheduler, prompts, siglip, runtime, owned,
                $"FLUX.1-dev + RelationAdapter ({adapterFile.Name}) on {runtime.Device.type} in {runtime.DType}",
                $"{adapterFile.Name}:{adapterFile.Length}:{adapterFile.LastWriteTimeUtc.Ticks}", isPlaceholder: false);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A tiny, randomly initialised model of every component (seeded, so always the same), with toy
    /// tokenizers: it runs anywhere without downloads, and its images are meaningless.
    /// </summary>
    public static LoadedModels CreateTiny(RuntimeOptions runtime, long seed = 1234)
    {
        var owned = new List<IDisposable>();
        try
        {
            var options = new ModuleOptions(runtime.Device, runtime.DType);
            var placement = new ComputePlacement(runtime.Device);
            var generator = new Generator((ulong)seed);
            var transformerConfig = new FluxTransformerConfig
            {
                NumLayers = 2, NumSingleLayers = 2, AttentionHeadDim = 16, NumAttentionHeads = 2,
                JointAttentionDim = 48, PooledProjectionDim = 24, AxesDimsRope = [4, 6, 6],
            };
            var transformer = Own(owned, Randomize(new FluxTransformer(transformerConfig, options), generator));
            var adapter = Own(owned, Randomize(new RelationAdapterModel(new RelationAdapterConfig(32, 48, 4, transformerConfig.InnerDim,
                transformerConfig.AttentionLayerCount), options), generator));
            var vae = Own(owned, Randomize(new AutoencoderKL(new VaeConfig { BlockOutChannels = [8, 8, 16, 16], NormNumGroups = 4, SampleSize = 64 },
                new ModuleOptions(runtime.Device, ScalarType.Float32)), generator));
            var clipConfig = new ClipTextConfig { VocabSize = 1000, HiddenSize = 24, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4 };
            var t5Config = new T5Config { VocabSize = 1000, DModel = 48, DKv = 12, DFf = 96, NumHeads = 4, NumLayers = 2 };
            var prompts = Own(owned, new FluxPromptEncoder(
                new ToyTokenizer(clipConfig.VocabSize, ClipTokenizer.ContextLength, bosId: clipConfig.VocabSize - 2, eosId: clipConfig.VocabSize - 1, padId: clipConfig.VocabSize - 1),
                Randomize(new ClipTextModel(clipConfig with { EosTokenId = clipConfig.VocabSize - 1 }, options), generator),
                new ToyTokenizer(t5Config.VocabSize, 512, bosId: null, eosId: T5Tokenizer.EosId, padId: T5Tokenizer.PadId),
                Randomize(new T5Encoder(t5Config, options), generator),
                placement));
            var siglipConfig = new SiglipVisionConfig
            {
                HiddenSize = 32, IntermediateSize = 80, NumHiddenLayers = 2, NumAttentionHeads = 4, ImageSize = 56, PatchSize = 14,
            };
            var siglip = Own(owned, new SiglipExemplarEncoder(new SiglipImageProcessor(siglipConfig.ImageSize),
                Randomize(new SiglipVisionModel(siglipConfig, options), generator), placement));
            return Assemble(transformer, adapter, vae, new SchedulerConfig(), prompts, siglip, runtime, owned,
                $"tiny random preset (seed {seed}) on {runtime.Device.type}: outputs are meaningless", $"tiny-preset:{seed}", isPlaceholder: true);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }

    static LoadedModels Assemble(FluxTransformer transformer, RelationAdapterModel adapter, AutoencoderKL vae, SchedulerConfig scheduler,
        FluxPromptEncoder prompts, SiglipExemplarEncoder siglip, RuntimeOptions runtime, List<IDisposable> owned,
        string description, string adapterIdentity, bool isPlaceholder)
    {
        IPromptEncoder promptEncoder = prompts;
        if (runtime.PromptCacheCapacity > 0) promptEncoder = Own(owned, new CachingPromptEncoder(prompts, runtime.PromptCacheCapacity));
        var resident = new Dictionary<string, long>
        {
            ["transformer"] = ModuleSize.Bytes(transformer),
            ["relation_adapter"] = ModuleSize.Bytes(adapter),
            ["vae"] = ModuleSize.Bytes(vae),
            ["clip_text"] = ModuleSize.Bytes(prompts.Clip),
            ["t5"] = ModuleSize.Bytes(prompts.T5),
            ["siglip"] = ModuleSize.Bytes(siglip.Model),
        };
        var models = new EditModels(transformer, adapter, vae, scheduler, promptEncoder, siglip, runtime.Tiling);
        return new LoadedModels(models, description, adapterIdentity, isPlaceholder, resident, owned);
    }

    static T Own<T>(List<IDisposable> owned, T item) where T : IDisposable
    {
        owned.Add(item);
        return item;
    }

    /// <summary>Seeded init: matrices ~ N(0, 1/fan_in), norm weights 1, other vectors 0.</summary>
    public static T Randomize<T>(T module, Generator generator) where T : nn.Module
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            using var scope = NewDisposeScope();
            if (parameter.dim() >= 2)
            {
                var fanIn = parameter.NumberOfElements / parameter.shape[0];
                parameter.copy_(randn(parameter.shape, generator: generator) / Math.Sqrt(fanIn));
            }
            else if (name.Contains("norm", StringComparison.Ordinal) && name.EndsWith("weight", StringComparison.Ordinal))
                parameter.fill_(1);
            else
                parameter.zero_();
        }
        return module;
    }
}
