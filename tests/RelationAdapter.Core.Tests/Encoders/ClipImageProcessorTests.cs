using RelationAdapter.Core.Vision;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Encoders;

[Trait("Category", "Encoders")]
public sealed class ClipImageProcessorTests : IDisposable
{
    readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void Reads_the_integer_form_of_the_real_openai_repository()
    {
        File.WriteAllText(_file, """{"crop_size": 224, "size": 224, "do_center_crop": true, "image_mean": [0.5, 0.4, 0.3], "image_std": [0.2, 0.25, 0.5], "resample": 3}""");
        var processor = ClipImageProcessor.Read(_file);
        Assert.Equal(224, processor.ShortestEdge);
        Assert.Equal((224, 224), processor.Crop);
        Assert.Null(processor.ResizeTo);
        Assert.Equal([0.5, 0.4, 0.3], processor.Mean);
    }

    [Fact]
    public void Keeps_the_aspect_and_crops_the_centre_of_a_wide_image()
    {
        File.WriteAllText(_file, """{"crop_size": {"height": 8, "width": 8}, "size": {"shortest_edge": 8}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]}""");
        var processor = ClipImageProcessor.Read(_file);
        // 24x8: thirds black | white | black; the centre 8x8 crop is the white third.
        using var image = new Image<Rgb24>(24, 8);
        for (var y = 0; y < 8; y++)
        for (var x = 8; x < 16; x++)
            image[x, y] = new Rgb24(255, 255, 255);
        using var scope = NewDisposeScope();
        var pixels = processor.Preprocess(image);
        Assert.Equal([1L, 3, 8, 8], pixels.shape);
        Assert.Equal(1.0, pixels.mean().item<float>(), 3);
    }

    [Fact]
    public void Resizes_to_the_given_height_and_width_form()
    {
        File.WriteAllText(_file, """{"crop_size": {"height": 6, "width": 6}, "size": {"height": 6, "width": 10}}""");
        var processor = ClipImageProcessor.Read(_file);
        Assert.Equal((6, 10), processor.ResizeTo);
        using var image = new Image<Rgb24>(30, 30, new Rgb24(10, 20, 30));
        using var pixels = processor.Preprocess(image);
        Assert.Equal([1L, 3, 6, 6], pixels.shape);
    }
}
