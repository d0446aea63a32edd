using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Tests.Support;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Imaging;

[Trait("Category", "Golden")]
public class PreprocessingGoldenTests
{
    [SkippableFact]
    public void Exemplar_padding_and_resize_match_the_reference()
    {
        using var file = GoldenSet.Case("resize_img");
        var inputs = file.Keys.Where(k => k.StartsWith("in_", StringComparison.Ordinal)).Order().ToList();
        Assert.NotEmpty(inputs);
        foreach (var input in inputs)
        {
            using var scope = NewDisposeScope();
            var expected = file.Read("out_" + input[3..]);
            using var source = ImageTensors.FromHwcBytes(file.Read(input));
            using var padded = ImagePreprocessing.PadToRegularRatio(source);
            var actual = ImageTensors.ToHwcBytes(padded);

            Assert.Equal(expected.shape, actual.shape);
            var meanAbs = (actual.to(ScalarType.Float32) - expected.to(ScalarType.Float32)).abs().mean().item<float>();
            Assert.True(meanAbs < 3, $"{input}: mean absolute difference {meanAbs:F3} ≥ 3");

            // Where the reference padded, the padding is exactly white; away from the seam so does ours.
            var whiteInExpected = expected.eq(255).all(-1);
            var interiorWhite = whiteInExpected & whiteInExpected.roll(2, 0) & whiteInExpected.roll(-2, 0)
                                & whiteInExpected.roll(2, 1) & whiteInExpected.roll(-2, 1);
            if (interiorWhite.any().item<bool>())
                Assert.True(actual.eq(255).all(-1).masked_select(interiorWhite).all().item<bool>(), $"{input}: padding not white");
        }
    }

    [Fact]
    public void Source_size_keeps_aspect_under_the_maximum_and_floors_to_16()
    {
        Assert.Equal((512, 384), ImagePreprocessing.SourceSize(1024, 768, 512));
        Assert.Equal((128, 96), ImagePreprocessing.SourceSize(128, 96, 512));
        Assert.Equal((288, 512), ImagePreprocessing.SourceSize(1000, 1777, 512));
        Assert.Equal((112, 96), ImagePreprocessing.SourceSize(120, 100, 512));
        Assert.Throws<ArgumentException>(() => ImagePreprocessing.SourceSize(4000, 20, 512));
    }
}
