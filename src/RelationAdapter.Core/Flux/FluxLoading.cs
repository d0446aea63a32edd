using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Flux;

/// <summary>Builds the DiT and the adapter from the files users have, by name.</summary>
public static class FluxLoading
{
    /// <param name="transformerDir">A diffusers <c>transformer/</c> folder (config.json + safetensors, sharded or not).</param>
    /// <param name="loraPath">Optional diffusers-layout LoRA fused into the weights at scale 1.</param>
    public static FluxTransformer LoadTransformer(string transformerDir, ModuleOptions options, string? loraPath = null)
    {
        var config = DiffusersConfig.Read<FluxTransformerConfig>(Path.Combine(transformerDir, "config.json"));
        return ModelLoading.DisposeOnFailure(new FluxTransformer(config, options), model =>
        {
            using (var weights = ShardedCheckpoint.Open(transformerDir))
                StateDictLoader.Load(model, weights);
            if (loraPath is not null)
                using (var lora = SafetensorsFile.Open(loraPath))
                    LoraFuser.Fuse(model, lora);
        });
    }

    /// <summary>Opens a RelationAdapter checkpoint: the official torch.save <c>.bin</c> or a flat safetensors copy.</summary>
    public static ITensorSource OpenAdapterCheckpoint(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ? SafetensorsFile.Open(path) : TorchZipCheckpoint.Open(path);

    public static RelationAdapterModel LoadAdapter(string path, ModuleOptions options)
    {
        using var checkpoint = OpenAdapterCheckpoint(path);
        return ModelLoading.DisposeOnFailure(new RelationAdapterModel(RelationAdapterConfig.FromCheckpoint(checkpoint), options),
            adapter => StateDictLoader.Load(adapter, checkpoint));
    }
}
