using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Vision;
using RelationAdapter.Core.Weights;
using Xunit.Abstractions;

namespace RelationAdapter.Core.Tests.Composition;

/// <summary>
/// The full-size module trees, built on the meta device (shapes only, no memory): their parameter
/// counts and names must be those of the checkpoints users download.
/// </summary>
[Trait("Category", "Unit")]
public class ModuleTreeTests(ITestOutputHelper output)
{
    void AssertCount(string what, long actual, double expected, double tolerance = 0.01)
    {
        output.WriteLine($"{what}: {actual:N0} parameters");
        Assert.InRange(actual, expected * (1 - tolerance), expected * (1 + tolerance));
    }

    [Fact]
    public void Flux1_dev_transformer_has_11_9e9_parameters_named_as_in_diffusers()
    {
        using var model = new FluxTransformer(new FluxTransformerConfig(), ModuleOptions.Meta);
        AssertCount("FLUX.1-dev transformer", ModuleSize.Parameters(model), 11.9e9);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("transformer_blocks.18.attn.to_out.0.weight", names);
        Assert.Contains("transformer_blocks.0.ff_context.net.2.bias", names);
        Assert.Contains("transformer_blocks.0.attn.norm_added_k.weight", names);
        Assert.Contains("single_transformer_blocks.37.proj_out.weight", names);
        Assert.Contains("time_text_embed.guidance_embedder.linear_2.weight", names);
        Assert.Contains("norm_out.linear.weight", names);
        Assert.DoesNotContain(names, n => n.Contains("single_transformer_blocks.0.attn.to_out", StringComparison.Ordinal));
    }

    [Fact]
    public void Relation_adapter_has_2_6e9_parameters_named_as_in_the_checkpoint()
    {
        using var adapter = new RelationAdapterModel(RelationAdapterConfig.Flux1Dev, ModuleOptions.Meta);
        AssertCount("RelationAdapter", ModuleSize.Parameters(adapter), 2.6e9, 0.03);
        var names = adapter.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("image_proj.proj.2.weight", names);
        Assert.Contains("image_proj.norm.bias", names);
        Assert.Contains("ip_adapter.56.to_v_ip.weight", names);
        Assert.Equal(6 + 57 * 2, names.Count);
    }

    [Fact]
    public void Encoders_have_their_published_sizes()
    {
        using var siglip = new SiglipVisionModel(SiglipVisionConfig.So400mPatch14x384, ModuleOptions.Meta);
        AssertCount("SigLIP SO400M vision", ModuleSize.Parameters(siglip), 0.43e9);
        using var clip = new ClipTextModel(new ClipTextConfig(), ModuleOptions.Meta);
        AssertCount("CLIP-L text", ModuleSize.Parameters(clip), 0.123e9);
        using var t5 = new T5Encoder(new T5Config(), ModuleOptions.Meta);
        AssertCount("T5-XXL encoder", ModuleSize.Parameters(t5), 4.76e9);
        Assert.Contains("encoder.block.23.layer.1.DenseReluDense.wi_1.weight", t5.named_parameters().Select(p => p.name));
        Assert.Contains("head.attention.in_proj_weight", siglip.named_parameters().Select(p => p.name));
    }
}

/// <summary>The module trees at the golden set's sizes hold exactly the keys of its checkpoints.</summary>
[Trait("Category", "Golden")]
public class GoldenModuleTreeTests
{
    [SkippableFact]
    public void Module_names_equal_every_key_of_the_golden_checkpoints()
    {
        using var transformerFiles = ShardedCheckpoint.Open(GoldenSet.Resolve("model/transformer"));
        var config = DiffusersConfig.Read<FluxTransformerConfig>(GoldenSet.Resolve("model/transformer/config.json"));
        using var transformer = new FluxTransformer(config, ModuleOptions.Meta);
        Assert.Equal(transformerFiles.Keys.Order(), transformer.named_parameters().Select(p => p.name).Order());

        using var vaeFiles = ShardedCheckpoint.Open(GoldenSet.Resolve("model/vae"));
        using var vae = new AutoencoderKL(DiffusersConfig.Read<VaeConfig>(GoldenSet.Resolve("model/vae/config.json")), ModuleOptions.Meta);
        Assert.Equal(vaeFiles.Keys.Order(), vae.named_parameters().Select(p => p.name).Order());
    }
}
