using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Flux;

[Trait("Category", "Golden")]
public class TransformerGoldenTests
{
    [SkippableTheory]
    [InlineData("transformer_ip", false)]
    [InlineData("transformer_no_ip", false)]
    [InlineData("transformer_lora_ip", true)]
    public void Transformer_matches_the_reference(string caseName, bool withLora)
    {
        using var file = GoldenSet.Case(caseName);
        using var scope = NewDisposeScope();
        using var model = FluxLoading.LoadTransformer(GoldenSet.Resolve("model/transformer"), ModuleOptions.CpuFloat32,
            withLora ? GoldenSet.Resolve("lora/pytorch_lora_weights.safetensors") : null);
        using var adapter = FluxLoading.LoadAdapter(GoldenSet.Resolve("adapter/ip_adapter.bin"), ModuleOptions.CpuFloat32);
        var withRelation = bool.Parse(file.Metadata["with_image_emb"]);
        var scale = file.Metadata.TryGetValue("adapter_scale", out var text) ? double.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 1.0;

        var relation = withRelation
            ? adapter.Project(file.Read("image_emb").reshape(1, -1, adapter.Config.CrossDim), model.Config.NumAttentionHeads, [scale])
            : null;
        using var job = model.Prepare(file.Read("encoder_hidden_states"), file.Read("pooled_projections"), file.Read("guidance"),
            file.Read("txt_ids"), file.Read("img_ids"), relation);
        var output = model.forward(file.Read("hidden_states"), file.Read("timestep"), job);

        Close.AssertRelativeL2(output, file.Read("output"), what: caseName);
    }

    [SkippableFact]
    public void Image_projection_matches_the_reference()
    {
        using var file = GoldenSet.Case("image_proj");
        using var scope = NewDisposeScope();
        using var adapter = FluxLoading.LoadAdapter(GoldenSet.Resolve("adapter/ip_adapter.flat.safetensors"), ModuleOptions.CpuFloat32);
        var pooled = file.Read("siglip_pooled");
        using var _ = no_grad();
        Close.AssertRelativeL2(adapter.image_proj.forward(pooled), file.Read("image_emb"), what: "image_emb");

        var tokens = adapter.RelationTokens(pooled[0], pooled[1]);
        Close.AssertRelativeL2(tokens, file.Read("image_emb").reshape(1, -1, adapter.Config.CrossDim), what: "relation tokens");
    }
}
