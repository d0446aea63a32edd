using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Vision;
using RelationAdapter.Core.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Composition;

public static class ModelFactory
{
    public static LoadedModels Load(ModelPaths paths, RuntimeOptions runtime)
    {
        var owned = new List<IDisposable>();
        try
        {
            var encoderOptions = new ModuleOptions(runtime.OffloadEncoders ? CPU : runtime.Device, runtime.DType);
            var placement = new ComputePlacement(runtime.Device, runtime.OffloadEncoders);
            var flux = paths.FluxDirectory;

            var transformer = Own(owned, LoadTransformer(Path.Combine(flux, "transformer"), paths.LoraPath, runtime));
            var adapter = Own(owned, FluxLoading.LoadAdapter(paths.AdapterPath, encoderOptions));
            adapter.Placement = placement;
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
                VisionLoading.LoadSiglipVision(paths.SiglipDirectory, encoderOptions),
                placement));
            return Assemble(transformer, adapter, vae, scheduler, prompts, siglip, runtime, owned,
                $"FLUX.1-dev + RelationAdapter ({Path.GetFileName(paths.AdapterPath)}) on {runtime.Device.type} in {runtime.DType}" +
                (runtime.Precision == DitPrecision.Fp8 ? " (DiT blocks in float8)" : ""),
                FileIdentity(paths.AdapterPath), isPlaceholder: false);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The DiT as the runtime wants it. In float8 the checkpoint is read into host memory first and each
    /// layer is quantised onto the device, so the GPU never holds the 23.8 GB of bf16 blocks.
    /// </summary>
    static FluxTransformer LoadTransformer(string directory, string? loraPath, RuntimeOptions runtime)
    {
        if (runtime.Precision != DitPrecision.Fp8)
            return FluxLoading.LoadTransformer(directory, new ModuleOptions(runtime.Device, runtime.DType), loraPath);
        return ModelLoading.DisposeOnFailure(FluxLoading.LoadTransformer(directory, new ModuleOptions(CPU, runtime.DType), loraPath),
            transformer => transformer.QuantizeToFp8(runtime.Device));
    }

    /// <summary>
    /// A tiny, randomly initialised model of every component (seeded, so always the same), with toy
    /// tokenizers: it runs anywhere without downloads, and its images are meaningless.
    /// </summary>
    public static LoadedModels CreateTiny(RuntimeOptions runtime, long seed = DefaultTinySeed) => CreateRandom(RandomModelSizes.Tiny, runtime, seed);

    /// <summary>The tiny preset's seed unless one is chosen (the service's Model:TinySeed and the training tool's --tiny-seed default to it).</summary>
    public const long DefaultTinySeed = 1234;

    /// <summary>
    /// The tiny preset with trained files over it (what the training tool writes for it): the adapter's weights
    /// replace the random ones and the LoRA is fused into the DiT at scale 1, as for the real model.
    /// </summary>
    public static LoadedModels CreateTiny(RuntimeOptions runtime, long seed, string? adapterPath, string? loraPath) =>
        CreateRandom(RandomModelSizes.Tiny, runtime, seed, adapterPath, loraPath);

    /// <summary>
    /// Every component at the given sizes with seeded random weights and toy tokenizers. On the CPU one
    /// generator fills the parameters in order; on CUDA each parameter is filled on the device from a seed
    /// derived from its name (12e9 parameters would take minutes on the CPU), so a float8 model gets the
    /// same weights as a bf16 one before quantisation, layer by layer, without ever holding the bf16 blocks.
    /// </summary>
    /// <param name="adapterPath">An adapter checkpoint of these sizes loaded over the random adapter, or null.</param>
    /// <param name="loraPath">A LoRA of these sizes fused into the random DiT, or null.</param>
    public static LoadedModels CreateRandom(RandomModelSizes sizes, RuntimeOptions runtime, long seed = 1234, string? adapterPath = null, string? loraPath = null)
    {
        var owned = new List<IDisposable>();
        try
        {
            var onCuda = runtime.Device.type == DeviceType.CUDA;
            var encoderOptions = new ModuleOptions(runtime.OffloadEncoders ? CPU : runtime.Device, runtime.DType);
            var placement = new ComputePlacement(runtime.Device, runtime.OffloadEncoders);
            var generator = new Generator((ulong)seed);
            T Random<T>(T module) where T : nn.Module => onCuda ? RandomizeByName(module, seed) : Randomize(module, generator);

            var transformer = Own(owned, RandomTransformer(sizes, runtime, seed, generator, loraPath));
            var adapter = Own(owned, Random(new RelationAdapterModel(sizes.Adapter, encoderOptions)));
            if (adapterPath is not null)
                using (var checkpoint = FluxLoading.OpenAdapterCheckpoint(adapterPath))
                    StateDictLoader.Load(adapter, checkpoint);
            adapter.Placement = placement;
            var vae = Own(owned, Random(new AutoencoderKL(sizes.Vae, new ModuleOptions(runtime.Device, ScalarType.Float32))));
            if (sizes.StartsInContext) InContextStart.TightenPosterior(vae);
            var clip = sizes.Clip;
            var t5 = sizes.T5;
            var prompts = Own(owned, new FluxPromptEncoder(
                new ToyTokenizer(clip.VocabSize, ClipTokenizer.ContextLength, bosId: clip.VocabSize - 2, eosId: clip.VocabSize - 1, padId: clip.VocabSize - 1),
                Random(new ClipTextModel(clip with { EosTokenId = clip.VocabSize - 1 }, encoderOptions)),
                new ToyTokenizer(t5.VocabSize, 512, bosId: null, eosId: T5Tokenizer.EosId, padId: T5Tokenizer.PadId),
                Random(new T5Encoder(t5, encoderOptions)),
                placement));
            var siglip = Own(owned, new SiglipExemplarEncoder(new SiglipImageProcessor(sizes.Siglip.ImageSize),
                Random(new SiglipVisionModel(sizes.Siglip, encoderOptions)), placement));
            var precision = runtime.Precision == DitPrecision.Fp8 ? ", DiT blocks in float8" : "";
            var trained = string.Join(", ", new[] { adapterPath, loraPath }.OfType<string>().Select(Path.GetFileName));
            return Assemble(transformer, adapter, vae, new SchedulerConfig(), prompts, siglip, runtime, owned,
                $"{sizes.Name} random preset (seed {seed}{(trained.Length > 0 ? $", with {trained}" : "")}) on {runtime.Device.type}{precision}: " +
                "outputs are meaningless unless trained",
                $"{sizes.Name}-preset-r{sizes.Revision}:{seed}" + (adapterPath is null ? "" : $":{FileIdentity(adapterPath)}"), isPlaceholder: true);
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }

    static string FileIdentity(string path)
    {
        var file = new FileInfo(path);
        return $"{file.Name}:{file.Length}:{file.LastWriteTimeUtc.Ticks}";
    }

    static FluxTransformer RandomTransformer(RandomModelSizes sizes, RuntimeOptions runtime, long seed, Generator generator, string? loraPath)
    {
        var config = sizes.Transformer;
        void Finish(FluxTransformer model, bool quantize)
        {
            if (sizes.StartsInContext) InContextStart.Apply(model, seed);
            FuseLora(model, loraPath);
            if (quantize) model.QuantizeToFp8(runtime.Device);
        }
        if (runtime.Device.type != DeviceType.CUDA)
            return ModelLoading.DisposeOnFailure(Randomize(new FluxTransformer(config, new ModuleOptions(runtime.Device, runtime.DType)), generator),
                model => Finish(model, runtime.Precision == DitPrecision.Fp8));
        // A small model set up in context is drawn whole in float8 too (the same weights as in bf16), then quantised.
        if (runtime.Precision != DitPrecision.Fp8 || sizes.StartsInContext)
            return ModelLoading.DisposeOnFailure(RandomizeByName(new FluxTransformer(config, new ModuleOptions(runtime.Device, runtime.DType)), seed),
                model => Finish(model, quantize: runtime.Precision == DitPrecision.Fp8));
        if (loraPath is not null)
            throw new NotSupportedException("a LoRA over a random preset in float8 on CUDA is not supported: use bf16.");

        // Host parameters that are never touched (no pages committed); each block weight is drawn on the device and quantised there.
        return ModelLoading.DisposeOnFailure(new FluxTransformer(config, new ModuleOptions(CPU, runtime.DType)), staged =>
        {
            using var _ = no_grad();
            staged.QuantizeToFp8(runtime.Device, (name, linear) =>
            {
                using var drawn = empty(linear.weight.shape, runtime.DType, runtime.Device);
                Fill(name + ".weight", drawn, seed);
                linear.ReplaceWeight(drawn);
            });
            RandomizeByName(staged, seed, skip: parameter => parameter.dtype == Fp8.E4M3);
        });
    }

    static void FuseLora(FluxTransformer transformer, string? loraPath)
    {
        if (loraPath is null) return;
        using var lora = SafetensorsFile.Open(loraPath);
        LoraFuser.Fuse(transformer, lora);
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

    /// <summary>
    /// <see cref="Randomize"/>'s distribution drawn where the parameters are, each from a seed derived from
    /// its name (so the values do not depend on the order or the set of parameters filled).
    /// </summary>
    public static T RandomizeByName<T>(T module, long seed, Func<Tensor, bool>? skip = null) where T : nn.Module
    {
        var parameters = module.named_parameters().Where(p => !(skip?.Invoke(p.parameter) ?? false)).ToList();
        // A CPU generator fills one tensor on one core; independent seeds let every core fill its own.
        Parallel.ForEach(parameters.Where(p => p.parameter.device_type == DeviceType.CPU), p =>
        {
            using var _ = no_grad();
            Fill(p.name, p.parameter, seed);
        });
        using (no_grad())
            foreach (var (name, parameter) in parameters.Where(p => p.parameter.device_type != DeviceType.CPU))
                Fill(name, parameter, seed);
        return module;
    }

    static void Fill(string name, Tensor parameter, long seed) => Initialize(name, parameter, matrix =>
    {
        var hash = 14695981039346656037UL;
        foreach (var c in name) hash = (hash ^ c) * 1099511628211UL;
        var derived = (ulong)seed ^ hash;
        if (matrix.device_type == DeviceType.CUDA) cuda.manual_seed((long)(derived >> 1));
        using var generator = matrix.device_type == DeviceType.CUDA ? null : new Generator(derived);
        matrix.normal_(0, 1 / Math.Sqrt(matrix.NumberOfElements / matrix.shape[0]), generator);
    });

    /// <summary>Seeded init: matrices ~ N(0, 1/fan_in), norm weights 1, other vectors 0.</summary>
    public static T Randomize<T>(T module, Generator generator) where T : nn.Module
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            using var scope = NewDisposeScope();
            Initialize(name, parameter, matrix => matrix.copy_(randn(matrix.shape, generator: generator) / Math.Sqrt(matrix.NumberOfElements / matrix.shape[0])));
        }
        return module;
    }

    /// <summary>The init rule both fills share: matrices drawn by <paramref name="drawMatrix"/>, norm weights 1, other vectors 0.</summary>
    static void Initialize(string name, Tensor parameter, Action<Tensor> drawMatrix)
    {
        if (parameter.dim() >= 2)
            drawMatrix(parameter);
        else if (name.Contains("norm", StringComparison.Ordinal) && name.EndsWith("weight", StringComparison.Ordinal))
            parameter.fill_(1);
        else
            parameter.zero_();
    }
}
