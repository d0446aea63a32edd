using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Training;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Training;

/// <summary>Fine-tuning starts from the released layouts: the golden LoRA, loaded unfused for training, computes what the reference computes with it fused.</summary>
[Trait("Category", "Golden")]
public class TrainingGoldenTests
{
    [SkippableFact]
    public void The_released_LoRA_loaded_for_training_matches_the_reference_with_it_fused()
    {
        using var file = GoldenSet.Case("transformer_lora_ip");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var model = FluxLoading.LoadTransformer(GoldenSet.Resolve("model/transformer"), ModuleOptions.CpuFloat32);
        using var adapter = FluxLoading.LoadAdapter(GoldenSet.Resolve("adapter/ip_adapter.bin"), ModuleOptions.CpuFloat32);
        using var released = SafetensorsFile.Open(GoldenSet.Resolve("lora/pytorch_lora_weights.safetensors"));
        var rank = (int)released.Describe(released.Keys.First(k => k.EndsWith(".lora_A.weight", StringComparison.Ordinal))).Shape[0];
        using var lora = new TransformerLora(model, rank, alpha: rank, new Generator(1));
        // The training layout is the released one: the same keys and shapes, no more, no fewer.
        Assert.Equal(released.Keys.Order(StringComparer.Ordinal), lora.NamedParameters().Select(p => p.Name).Order(StringComparer.Ordinal));
        lora.LoadReleased(released);

        var relation = adapter.Project(file.Read("image_emb").reshape(1, -1, adapter.Config.CrossDim), model.Config.NumAttentionHeads, [1.0]);
        using var job = model.Prepare(file.Read("encoder_hidden_states"), file.Read("pooled_projections"), file.Read("guidance"),
            file.Read("txt_ids"), file.Read("img_ids"), relation);
        Close.AssertRelativeL2(model.forward(file.Read("hidden_states"), file.Read("timestep"), job), file.Read("output"), what: "unfused released LoRA");
    }
}
