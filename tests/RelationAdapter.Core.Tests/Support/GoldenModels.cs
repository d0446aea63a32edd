using System.Globalization;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Tests.Support;

/// <summary>The golden set's model directory, adapter and LoRA loaded as the pipeline cases use them.</summary>
public sealed class GoldenModels : IDisposable
{
    public EditModels Models { get; }

    public GoldenModels(VaeTiling? tiling = null)
    {
        var transformer = FluxLoading.LoadTransformer(GoldenSet.Resolve("model/transformer"), ModuleOptions.CpuFloat32,
            GoldenSet.Resolve("lora/pytorch_lora_weights.safetensors"));
        var adapter = FluxLoading.LoadAdapter(GoldenSet.Resolve("adapter/ip_adapter.bin"), ModuleOptions.CpuFloat32);
        var vae = AutoencoderKL.Load(GoldenSet.Resolve("model/vae"), ModuleOptions.CpuFloat32);
        var scheduler = DiffusersConfig.Read<SchedulerConfig>(GoldenSet.Resolve("model/scheduler/scheduler_config.json"));
        Models = new EditModels(transformer, adapter, vae, scheduler, Tiling: tiling);
    }

    public void Dispose()
    {
        Models.Transformer.Dispose();
        Models.Adapter.Dispose();
        Models.Vae.Dispose();
    }
}

/// <summary>A pipeline golden case ready to run: its file, the models, the pipeline and the request it describes.</summary>
public sealed class GoldenEdit : IDisposable
{
    readonly PromptEmbedding _prompt;
    readonly TorchSharp.torch.Tensor _relationTokens;

    public SafetensorsFile File { get; }
    public GoldenModels Models { get; } = new();
    public RelationEditPipeline Pipeline { get; }
    public EditRequest Request { get; }

    public GoldenEdit(string caseName)
    {
        File = GoldenSet.Case(caseName);
        Pipeline = new RelationEditPipeline(Models.Models);
        _prompt = new PromptEmbedding(File.Read("prompt_embeds"), File.Read("pooled_prompt_embeds"));
        _relationTokens = File.Read("image_emb").reshape(1, -1, Models.Models.Adapter.Config.CrossDim);
        var meta = File.Metadata;
        using var sourceBytes = File.Read("source_uint8");
        Request = new EditRequest
        {
            Source = ImageTensors.FromHwcBytes(sourceBytes),
            PromptEmbedding = _prompt,
            RelationTokens = _relationTokens,
            Settings = new EditSettings
            {
                Steps = int.Parse(meta["steps"]),
                Guidance = double.Parse(meta["guidance_scale"], CultureInfo.InvariantCulture),
                AdapterScale = double.Parse(meta["adapter_scale"], CultureInfo.InvariantCulture),
                Seed = long.Parse(meta["seed"]),
                MaxSide = Math.Max(int.Parse(meta["height"]), int.Parse(meta["width"])),
            },
        };
    }

    public void Dispose()
    {
        Request.Source.Dispose();
        _prompt.Dispose();
        _relationTokens.Dispose();
        Models.Dispose();
        File.Dispose();
    }
}
