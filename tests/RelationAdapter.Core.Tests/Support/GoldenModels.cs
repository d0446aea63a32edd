using RelationAdapter.Core.Flux;
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
