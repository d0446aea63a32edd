using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vision;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Encoders;

[Trait("Category", "Golden")]
public class EncoderGoldenTests
{
    static SafetensorsFile EncoderCase(string name) =>
        SafetensorsFile.Open(GoldenSet.Resolve(Path.Combine("encoders", "cases", name + ".safetensors")));

    [SkippableFact]
    public void Siglip_hidden_state_and_pooled_output_match()
    {
        using var file = EncoderCase("siglip");
        using var scope = NewDisposeScope();
        using var model = VisionLoading.LoadSiglipVision(GoldenSet.Resolve("encoders/siglip"), ModuleOptions.CpuFloat32);
        var (last, pooled) = model.forward(file.Read("pixel_values"));
        Close.AssertRelativeL2(last, file.Read("last_hidden_state"), what: "last_hidden_state");
        Close.AssertRelativeL2(pooled, file.Read("pooler_output"), what: "pooler_output");
    }

    [SkippableFact]
    public void Siglip_preprocessing_matches()
    {
        using var file = EncoderCase("siglip_preprocess");
        var processor = SiglipImageProcessor.Read(GoldenSet.Resolve("encoders/siglip/preprocessor_config.json"));
        var inputs = file.Keys.Where(k => k.StartsWith("in_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(inputs);
        foreach (var input in inputs)
        {
            using var scope = NewDisposeScope();
            var expected = file.Read("pixel_values_" + input[3..]);
            using var image = ImageTensors.FromHwcBytes(file.Read(input));
            var actual = processor.Preprocess(image);
            Assert.Equal(expected.shape, actual.shape);
            var meanAbs = (actual - expected).abs().mean().item<float>();
            Assert.True(meanAbs < 6f / 255, $"{input}: mean absolute difference {meanAbs * 255:F2}/255 ≥ 6/255");
        }
    }

    [SkippableFact]
    public void Clip_text_hidden_state_and_pooled_output_match()
    {
        using var file = EncoderCase("clip_text");
        using var scope = NewDisposeScope();
        using var model = EncoderLoading.LoadClipText(GoldenSet.Resolve("encoders/text_encoder"), ModuleOptions.CpuFloat32);
        var (last, pooled) = model.forward(file.Read("input_ids"));
        Close.AssertRelativeL2(last, file.Read("last_hidden_state"), what: "last_hidden_state");
        Close.AssertRelativeL2(pooled, file.Read("pooler_output"), what: "pooler_output");
    }

    [SkippableFact]
    public void T5_last_hidden_state_matches_without_a_mask()
    {
        using var file = EncoderCase("t5");
        using var scope = NewDisposeScope();
        using var model = EncoderLoading.LoadT5(GoldenSet.Resolve("encoders/text_encoder_2"), ModuleOptions.CpuFloat32);
        Close.AssertRelativeL2(model.forward(file.Read("input_ids")), file.Read("last_hidden_state"), what: "last_hidden_state");
    }
}
