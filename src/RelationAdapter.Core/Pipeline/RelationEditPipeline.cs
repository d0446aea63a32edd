using System.Diagnostics;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Vae;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>The loaded models an edit needs. Encoders may be absent when callers pass precomputed inputs.</summary>
public sealed record EditModels(
    FluxTransformer Transformer,
    RelationAdapterModel Adapter,
    AutoencoderKL Vae,
    SchedulerConfig Scheduler,
    IPromptEncoder? PromptEncoder = null,
    IExemplarImageEncoder? ImageEncoder = null,
    VaeTiling? Tiling = null);

/// <summary>The raw outputs of an edit: packed latents after the last step [1, 2N, C] and the image [1, 3, H, W] in [0, 1].</summary>
public sealed class EditTensors(Tensor packedLatents, Tensor image, DenoiseSteps steps) : IDisposable
{
    public Tensor PackedLatents { get; } = packedLatents;
    public Tensor Image { get; } = image;
    public DenoiseSteps Steps { get; } = steps;

    public void Dispose()
    {
        PackedLatents.Dispose();
        Image.Dispose();
    }
}

/// <summary>
/// The in-context editor (the reference's pe_clone pipeline): the source's VAE latents sit beside the
/// noise as clean condition tokens with cloned position ids, the DiT attends to both and to the
/// exemplar pair's relation tokens, and after every Euler step the condition half is restored.
/// </summary>
public sealed class RelationEditPipeline(EditModels models)
{
    public EditModels Models { get; } = models;

    /// <summary>The relation tokens of an exemplar pair ([1, 2·tokens, D]), before image first.</summary>
    public Tensor EncodeRelation(Image<Rgb24> promptImage, Image<Rgb24> referenceImage)
    {
        using var paddedPrompt = ImagePreprocessing.PadToRegularRatio(promptImage);
        using var paddedReference = ImagePreprocessing.PadToRegularRatio(referenceImage);
        return EncodePaddedRelation(paddedPrompt, paddedReference);
    }

    /// <summary>
    /// <see cref="EncodeRelation"/> of a pair already padded by <see cref="ImagePreprocessing.PadToRegularRatio"/>:
    /// callers that queue work keep only the small padded images, never the uploads' full resolution.
    /// </summary>
    public Tensor EncodePaddedRelation(Image<Rgb24> paddedPrompt, Image<Rgb24> paddedReference)
    {
        var encoder = Models.ImageEncoder ?? throw new InvalidOperationException("no exemplar image encoder is loaded.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = Models.Adapter.RelationTokens(encoder.EncodePooled(paddedPrompt), encoder.EncodePooled(paddedReference));
        return tokens.MoveToOuterDisposeScope();
    }

    public PromptEmbedding EncodePrompt(string prompt) =>
        (Models.PromptEncoder ?? throw new InvalidOperationException("no prompt encoder is loaded.")).Encode(prompt);

    public EditResult Run(EditRequest request, IProgress<EditProgress>? progress = null, CancellationToken cancellation = default) =>
        RunBatch(request, progress, cancellation).Single();

    /// <summary>Every source of the request edited in one DiT batch: a result per source, in order, each with its seed.</summary>
    public IReadOnlyList<EditResult> RunBatch(EditRequest request, IProgress<EditProgress>? progress = null, CancellationToken cancellation = default)
    {
        var timings = new Dictionary<EditStage, TimeSpan>();
        var warnings = new List<string>();
        using var scope = NewDisposeScope();
        using var tensors = RunToTensors(request, progress, cancellation, timings, warnings);
        var clock = Stopwatch.StartNew();
        var images = new List<Image<Rgb24>>();
        try
        {
            for (var i = 0; i < tensors.Image.shape[0]; i++) images.Add(ImageTensors.FromUnitNchw(tensors.Image.narrow(0, i, 1)));
        }
        catch
        {
            foreach (var image in images) image.Dispose();
            throw;
        }
        timings[EditStage.Decode] += clock.Elapsed;
        return images.Select((image, i) => new EditResult(image, request.SeedOf(i), image.Width, image.Height, timings, warnings, tensors.Steps)).ToList();
    }

    /// <summary>The request's sources denoised together (<see cref="EditRequest.MoreSources"/>): the final latents and images [B, …].</summary>
    public EditTensors RunToTensors(EditRequest request, IProgress<EditProgress>? progress = null, CancellationToken cancellation = default,
        IDictionary<EditStage, TimeSpan>? timings = null, IList<string>? warnings = null)
    {
        Validate(request);
        var batch = request.Sources.Count;
        var stages = new StageClock(request.Settings.Steps, timings ?? new Dictionary<EditStage, TimeSpan>(), progress, cancellation);
        using var scope = NewDisposeScope();
        using var _ = no_grad();

        stages.Enter(EditStage.EncodePrompt);
        var prompt = request.PromptEmbedding ?? EncodePrompt(request.Settings.Prompt!);
        foreach (var warning in prompt.Warnings) warnings?.Add(warning);

        stages.Enter(EditStage.EncodeRelation);
        var relationTokens = request.RelationTokens ?? EncodeRelation(request.PromptImage!, request.ReferenceImage!);

        stages.Enter(EditStage.EncodeSource);
        var start = EncodeSources(request);

        stages.Enter(EditStage.Denoise);
        var (latents, steps) = Denoise(request, batch, prompt, relationTokens, start, stages);

        stages.Enter(EditStage.Decode);
        var image = Decode(latents, start);
        stages.Finish();
        return new EditTensors(latents.cpu().MoveToOuterDisposeScope(), image.MoveToOuterDisposeScope(), steps);
    }

    /// <summary>Packed tokens of the first latents: noise [B, N, C] and the source's clean condition [B, N, C], on the DiT's device.</summary>
    sealed record StartingLatents(Tensor NoiseTokens, Tensor ConditionTokens, long LatentHeight, long LatentWidth)
    {
        public long TokenCount => NoiseTokens.shape[1];
    }

    /// <summary>
    /// Each source's VAE latents (sampled from the posterior) as condition tokens and its initial noise, both
    /// drawn from its seed (<see cref="EditRequest.SeedOf"/>), in that order; stacked in the batch.
    /// </summary>
    StartingLatents EncodeSources(EditRequest request)
    {
        var transformer = Models.Transformer;
        var vae = Models.Vae;
        var (width, height) = ImagePreprocessing.SourceSize(request.Source.Width, request.Source.Height, request.Settings.MaxSide);
        var latentH = 2L * (height / 16);
        var latentW = 2L * (width / 16);
        var conditions = new List<Tensor>();
        var noises = new List<Tensor>();
        foreach (var (source, index) in request.Sources.Select((source, index) => (source, index)))
        {
            if (ImagePreprocessing.SourceSize(source.Width, source.Height, request.Settings.MaxSide) != (width, height))
                throw new ArgumentException($"source {index} is edited at another size than the first; a batch needs one working size.", nameof(request));
            using var generator = new Generator((ulong)request.SeedOf(index));
            var (mean, std) = vae.Encode(ImagePreprocessing.SourcePixels(source, width, height));
            var sampled = AutoencoderKL.Sample(mean, std, generator);
            conditions.Add(Packing.Pack((sampled - vae.Config.ShiftFactor) * vae.Config.ScalingFactor));
            noises.Add(randn([1, vae.Config.LatentChannels, latentH, latentW], dtype: ScalarType.Float32, generator: generator));
        }
        var conditionTokens = cat(conditions, 0).to(ScalarType.Float32, transformer.Device);
        var noiseTokens = Packing.Pack(cat(noises, 0)).to(transformer.Device);
        return new StartingLatents(noiseTokens, conditionTokens, latentH, latentW);
    }

    /// <summary>
    /// The Euler steps over [noise, condition] tokens: the DiT sees both with cloned position ids, the noise
    /// half is stepped, and the condition half is restored after every step. Returns the final packed latents.
    /// </summary>
    (Tensor Latents, DenoiseSteps Steps) Denoise(EditRequest request, int batch, PromptEmbedding prompt, Tensor relationTokens,
        StartingLatents start, StageClock stages)
    {
        var transformer = Models.Transformer;
        var tokenCount = start.TokenCount;
        var scheduler = FlowMatchEulerScheduler.Create(Models.Scheduler, request.Settings.Steps, (int)(2 * tokenCount));
        var relation = request.Settings.AdapterScale == 0 ? null
            : Models.Adapter.Project(Batched(relationTokens, batch), transformer.Config.NumAttentionHeads, Enumerable.Repeat(request.Settings.AdapterScale, batch).ToList());
        using var job = transformer.Prepare(Batched(prompt.HiddenStates, batch), Batched(prompt.Pooled, batch), full([batch], (float)request.Settings.Guidance),
            zeros(prompt.HiddenStates.shape[1], 3), Packing.ClonedImageIds(start.LatentHeight, start.LatentWidth), relation);

        using var cache = request.Settings.CacheThreshold > 0 ? new FirstBlockCache(request.Settings.CacheThreshold) : null;
        var latents = cat([start.NoiseTokens, start.ConditionTokens], 1);
        for (var i = 0; i < scheduler.StepCount; i++)
        {
            stages.ThrowIfCancellationRequested();
            using var stepScope = NewDisposeScope();
            // Filled on the device: a host tensor copied in would wait for the previous step to finish.
            var timestep = full([batch], scheduler.Timesteps[i], ScalarType.Float32, transformer.Device) / 1000f;
            var velocity = transformer.forward(latents, timestep, job, cache);
            var stepped = scheduler.Step(velocity, i, latents);
            var previous = latents;
            latents = cat([stepped.narrow(1, 0, tokenCount), start.ConditionTokens], 1).MoveToOuterDisposeScope();
            previous.Dispose();
            stages.ReportStep(i + 1, scheduler.StepCount);
        }
        var steps = cache is null ? new DenoiseSteps(scheduler.StepCount, 0) : new DenoiseSteps(cache.ComputedSteps, cache.ReusedSteps);
        return (latents, steps);
    }

    /// <summary>The noise half of the final latents through the VAE: the image [B, 3, H, W] in [0, 1] on the CPU.</summary>
    Tensor Decode(Tensor latents, StartingLatents start)
    {
        var vae = Models.Vae;
        var denoised = Packing.Unpack(latents.narrow(1, 0, start.TokenCount), start.LatentHeight, start.LatentWidth);
        var decoded = vae.Decode(denoised / vae.Config.ScalingFactor + vae.Config.ShiftFactor, Models.Tiling);
        return (decoded / 2 + 0.5).clamp(0, 1).to(ScalarType.Float32).cpu();
    }

    /// <summary>Times each stage, checks for cancellation on entering one, and reports progress.</summary>
    sealed class StageClock(int requestedSteps, IDictionary<EditStage, TimeSpan> timings, IProgress<EditProgress>? progress,
        CancellationToken cancellation)
    {
        readonly Stopwatch _total = Stopwatch.StartNew();
        readonly Stopwatch _stage = Stopwatch.StartNew();
        EditStage? _current;

        public void Enter(EditStage next)
        {
            if (_current is { } finished) timings[finished] = _stage.Elapsed;
            cancellation.ThrowIfCancellationRequested();
            _current = next;
            _stage.Restart();
            progress?.Report(new EditProgress(next, next == EditStage.Decode ? requestedSteps : 0, requestedSteps, _total.Elapsed));
        }

        /// <summary>Records the current stage's time (the last stage has no next one to do it).</summary>
        public void Finish()
        {
            if (_current is { } finished) timings[finished] = _stage.Elapsed;
        }

        public void ThrowIfCancellationRequested() => cancellation.ThrowIfCancellationRequested();

        public void ReportStep(int step, int stepCount) =>
            progress?.Report(new EditProgress(EditStage.Denoise, step, stepCount, _total.Elapsed));
    }

    static Tensor Batched(Tensor x, int batch) => batch == 1 ? x : x.expand([batch, .. x.shape[1..]]);

    static void Validate(EditRequest request)
    {
        if (request.Settings.Steps is < EditSettings.MinSteps or > EditSettings.MaxSteps)
            throw new ArgumentOutOfRangeException(nameof(request), $"steps must be between {EditSettings.MinSteps} and {EditSettings.MaxSteps}.");
        if (!(request.Settings.CacheThreshold >= 0) || double.IsInfinity(request.Settings.CacheThreshold))
            throw new ArgumentOutOfRangeException(nameof(request), "the cache threshold must be a finite number, 0 or more.");
        if (request.PromptEmbedding is null && string.IsNullOrWhiteSpace(request.Settings.Prompt))
            throw new ArgumentException("either a prompt or a prompt embedding is required.", nameof(request));
        if (request.SourceSeeds is { } seeds && seeds.Count != request.Sources.Count)
            throw new ArgumentException($"{seeds.Count} seeds were given for {request.Sources.Count} sources.", nameof(request));
        if (request.RelationTokens is null && (request.PromptImage is null || request.ReferenceImage is null))
            throw new ArgumentException("either relation tokens or both exemplar images are required.", nameof(request));
    }
}
