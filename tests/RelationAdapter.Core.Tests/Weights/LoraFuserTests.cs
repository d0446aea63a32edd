using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Weights;

[Trait("Category", "Unit")]
public class LoraFuserTests
{
    sealed class TwoLayers : nn.Module
    {
        public readonly Linear first = new(6, 4, ModuleOptions.CpuFloat32);
        public readonly Linear second = new(4, 3, ModuleOptions.CpuFloat32);

        public TwoLayers() : base(nameof(TwoLayers))
        {
            RegisterComponents();
            ModelFactory.Randomize(this, new Generator(1));
        }
    }

    static SafetensorsFile Lora(TempFolder temp, Dictionary<string, Tensor> tensors)
    {
        var path = temp.File("lora.safetensors");
        SafetensorsWriter.Write(path, tensors);
        return SafetensorsFile.Open(path);
    }

    [Fact]
    public void Adds_alpha_over_rank_times_B_A_and_uses_rank_when_alpha_is_absent()
    {
        using var temp = new TempFolder();
        using var model = new TwoLayers();
        using var before1 = model.first.weight.clone();
        using var before2 = model.second.weight.clone();
        using var a1 = randn(2, 6);
        using var b1 = randn(4, 2);
        using var a2 = randn(2, 4);
        using var b2 = randn(3, 2);
        using var alpha = tensor(new float[] { 1f });
        using var lora = Lora(temp, new Dictionary<string, Tensor>
        {
            ["transformer.first.lora_A.weight"] = a1, ["transformer.first.lora_B.weight"] = b1,
            ["transformer.second.lora_A.weight"] = a2, ["transformer.second.lora_B.weight"] = b2, ["transformer.second.alpha"] = alpha.reshape([]),
        });

        Assert.Equal(2, LoraFuser.Fuse(model, lora));

        using var expected1 = before1 + b1.matmul(a1);
        using var expected2 = before2 + b2.matmul(a2) * 0.5;
        Assert.True(model.first.weight.allclose(expected1, rtol: 1e-5, atol: 1e-6));
        Assert.True(model.second.weight.allclose(expected2, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Unknown_unpaired_and_unmatched_keys_are_listed()
    {
        using var temp = new TempFolder();
        using var model = new TwoLayers();
        using var a = randn(2, 6);
        using var b = randn(4, 2);
        using var lora = Lora(temp, new Dictionary<string, Tensor>
        {
            ["transformer.first.lora_A.weight"] = a,
            ["transformer.third.lora_A.weight"] = a, ["transformer.third.lora_B.weight"] = b,
            ["unet.first.lora_A.weight"] = a,
        });
        using var original = model.first.weight.clone();

        var error = Assert.Throws<CheckpointFormatException>(() => LoraFuser.Fuse(model, lora));
        Assert.Contains("'first' lacks lora_A or lora_B", error.Message);
        Assert.Contains("'third' matches no weight", error.Message);
        Assert.Contains("unknown key 'unet.first.lora_A.weight'", error.Message);
        Assert.True(model.first.weight.Same(original), "nothing is fused when any key is wrong");
    }
}
