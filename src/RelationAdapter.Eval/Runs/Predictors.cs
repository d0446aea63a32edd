using System.Collections.Concurrent;
using System.Net.Http.Headers;
using RelationAdapter.Client;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Data;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Eval.Runs;

/// <summary>Makes the prediction B̂′ of one sample as PNG bytes.</summary>
public interface IPredictor : IDisposable
{
    string Model { get; }
    string ModelIdentity { get; }

    /// <summary>How many samples to have in flight at once.</summary>
    int Parallelism { get; }

    Task<byte[]> PredictAsync(RelationSample sample, CancellationToken cancellation);
}

/// <summary>
/// The models composed exactly as the service composes them (<see cref="ModelFactory"/>: the tiny preset, with the
/// training tool's files over it when --adapter/--lora are given, or the real weights), one edit at a time.
/// </summary>
public sealed class InProcessPredictor(LoadedModels models, RunSettings settings) : IPredictor
{
    public static InProcessPredictor Create(RunSettings settings)
    {
        var runtime = RuntimeOptions.ForDevice(settings.Device, precision: RuntimeOptions.ParsePrecision(settings.Precision));
        var models = settings.Preset == "tiny"
            ? ModelFactory.CreateTiny(runtime, ModelFactory.DefaultTinySeed, settings.Adapter, settings.Lora)
            : ModelFactory.Load(new ModelPaths(
                settings.FluxDirectory ?? throw new ArgumentException("--flux-dir is required unless --preset tiny."),
                settings.SiglipDirectory ?? throw new ArgumentException("--siglip-dir is required unless --preset tiny."),
                settings.Adapter ?? throw new ArgumentException("--adapter is required unless --preset tiny."),
                settings.Lora), runtime);
        return new InProcessPredictor(models, settings);
    }

    public string Model => models.Description;
    public string ModelIdentity => models.AdapterIdentity;
    public int Parallelism => 1;

    public Task<byte[]> PredictAsync(RelationSample sample, CancellationToken cancellation)
    {
        using var source = Decode(sample.Source);
        using var prompt = Decode(sample.PromptImage);
        using var reference = Decode(sample.ReferenceImage);
        var result = models.Pipeline.Run(new EditRequest
        {
            Source = source,
            PromptImage = prompt,
            ReferenceImage = reference,
            Settings = new EditSettings
            {
                Prompt = sample.Text,
                Steps = settings.Steps,
                Guidance = settings.Guidance,
                AdapterScale = settings.AdapterScale,
                Seed = settings.Seed,
                MaxSide = settings.MaxSide,
                CacheThreshold = settings.CacheThreshold,
            },
        }, cancellation: cancellation);
        using (result.Image) return Task.FromResult(ImageCodec.Encode(result.Image, Core.Imaging.OutputFormat.Png));
    }

    static Image<Rgb24> Decode(string path) => ImageCodec.Decode(File.ReadAllBytes(path));

    public void Dispose() => models.Dispose();
}

/// <summary>A deployed service through its API: each exemplar pair becomes a relation once and is reused; several edits in flight.</summary>
public sealed class ServicePredictor : IPredictor
{
    readonly HttpClient _http;
    readonly RelationAdapterClient _client;
    readonly RunSettings _settings;
    readonly ConcurrentDictionary<(string, string), Lazy<Task<string>>> _relations = new();

    public ServicePredictor(RunSettings settings, string? apiKey, int parallelism)
    {
        _settings = settings;
        Parallelism = parallelism;
        _http = new HttpClient { BaseAddress = new Uri(settings.Service!), Timeout = TimeSpan.FromMinutes(10) };
        if (!string.IsNullOrEmpty(apiKey)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        _client = new RelationAdapterClient(_http);
    }

    public string Model => $"service {_settings.Service}";
    public string ModelIdentity => _settings.Service!;
    public int Parallelism { get; }

    public async Task<byte[]> PredictAsync(RelationSample sample, CancellationToken cancellation)
    {
        var relation = await _relations.GetOrAdd((sample.PromptImage, sample.ReferenceImage),
            key => new Lazy<Task<string>>(() => CreateRelationAsync(key.Item1, key.Item2, cancellation))).Value;
        var job = await _client.CreateEditAsync([File(sample.Source)], sample.Text, relationId: relation,
            steps: _settings.Steps, guidance: _settings.Guidance, adapterScale: _settings.AdapterScale, seed: _settings.Seed,
            maxSide: _settings.MaxSide, outputFormat: Client.OutputFormat.Png, cacheThreshold: _settings.CacheThreshold, cancellationToken: cancellation);
        var delay = TimeSpan.FromMilliseconds(200);
        while (job.Status is JobStatus.Queued or JobStatus.Running)
        {
            await Task.Delay(delay, cancellation);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 1.5, 2000));
            job = await _client.GetEditAsync(job.Id, cancellation);
        }
        if (job.Status != JobStatus.Succeeded) throw new InvalidOperationException($"edit {job.Id} ended {job.Status}.");
        using var result = await _client.GetEditResultAsync(job.Id, cancellation);
        using var buffer = new MemoryStream();
        await result.Stream.CopyToAsync(buffer, cancellation);
        return buffer.ToArray();
    }

    async Task<string> CreateRelationAsync(string promptImage, string referenceImage, CancellationToken cancellation) =>
        (await _client.CreateRelationAsync(File(promptImage), File(referenceImage), cancellationToken: cancellation)).Id;

    static FileParameter File(string path) => new(new MemoryStream(System.IO.File.ReadAllBytes(path)), System.IO.Path.GetFileName(path),
        System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".jpg" or ".jpeg" => "image/jpeg",
            ".webp" => "image/webp",
            ".bmp" => "image/bmp",
            ".gif" => "image/gif",
            _ => "image/png",
        });

    public void Dispose() => _http.Dispose();
}
