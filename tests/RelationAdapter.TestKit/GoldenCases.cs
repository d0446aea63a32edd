using System.Globalization;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.TestKit;

/// <summary>Where the golden set is, as the parity benchmark and the Core tests look for it.</summary>
public static class GoldenCases
{
    /// <summary><c>RA_GOLDEN_DIR</c> when set, else the repository's copy (<see cref="RepositoryCopy"/>; null without a repository).</summary>
    public static string? DefaultDirectory(string? repositoryRoot)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RA_GOLDEN_DIR");
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        return repositoryRoot is null ? null : RepositoryCopy(repositoryRoot);
    }

    /// <summary>The set the repository carries, <c>tests/data/golden/tiny-v1</c>, so a clone tests itself.</summary>
    public static string RepositoryCopy(string repositoryRoot) => Path.GetFullPath(Path.Combine(repositoryRoot, "tests", "data", "golden", "tiny-v1"));

    /// <summary>The shared set the copy was taken from, <c>../shared/golden/tiny-v1</c> beside the repository (where it exists).</summary>
    public static string SharedSet(string repositoryRoot) => Path.GetFullPath(Path.Combine(repositoryRoot, "..", "shared", "golden", "tiny-v1"));
}

/// <summary>
/// The golden set's models as the pipeline cases use them: the transformer with the set's LoRA and the adapter in
/// the DiT's options, the VAE in float32 on the same device, and the scheduler. <c>path</c> gives the file of a
/// path relative to the set.
/// </summary>
public sealed class GoldenModels : IDisposable
{
    public EditModels Models { get; }

    public GoldenModels(Func<string, string> path, ModuleOptions dit, VaeTiling? tiling = null)
    {
        var transformer = FluxLoading.LoadTransformer(path("model/transformer"), dit, path("lora/pytorch_lora_weights.safetensors"));
        var adapter = FluxLoading.LoadAdapter(path("adapter/ip_adapter.bin"), dit);
        var vae = AutoencoderKL.Load(path("model/vae"), dit with { DType = ScalarType.Float32 });
        var scheduler = DiffusersConfig.Read<SchedulerConfig>(path("model/scheduler/scheduler_config.json"));
        Models = new EditModels(transformer, adapter, vae, scheduler, Tiling: tiling);
    }

    public void Dispose()
    {
        Models.Transformer.Dispose();
        Models.Adapter.Dispose();
        Models.Vae.Dispose();
    }
}

/// <summary>The request a golden pipeline case describes: its source, prompt embedding, relation tokens ([1, R, crossDim]) and settings, owned here.</summary>
public sealed class GoldenRequest : IDisposable
{
    public EditRequest Request { get; }

    public GoldenRequest(SafetensorsFile file, long crossDim)
    {
        var meta = file.Metadata;
        using var sourceBytes = file.Read("source_uint8");
        Request = new EditRequest
        {
            Source = ImageTensors.FromHwcBytes(sourceBytes),
            PromptEmbedding = new PromptEmbedding(file.Read("prompt_embeds"), file.Read("pooled_prompt_embeds")),
            RelationTokens = file.Read("image_emb").reshape(1, -1, crossDim),
            Settings = new EditSettings
            {
                Steps = int.Parse(meta["steps"], CultureInfo.InvariantCulture),
                Guidance = double.Parse(meta["guidance_scale"], CultureInfo.InvariantCulture),
                AdapterScale = double.Parse(meta["adapter_scale"], CultureInfo.InvariantCulture),
                Seed = long.Parse(meta["seed"], CultureInfo.InvariantCulture),
                MaxSide = Math.Max(int.Parse(meta["height"], CultureInfo.InvariantCulture), int.Parse(meta["width"], CultureInfo.InvariantCulture)),
            },
        };
    }

    public void Dispose()
    {
        Request.Source.Dispose();
        Request.PromptEmbedding!.Dispose();
        Request.RelationTokens!.Dispose();
    }
}
