using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vision;

/// <summary>SigLIP's image processor: bicubic resize to size×size ignoring aspect, x/255, (x − mean)/std.</summary>
public sealed record SiglipImageProcessor(int Size, double Mean = 0.5, double Std = 0.5)
{
    public static SiglipImageProcessor Read(string preprocessorConfigPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(preprocessorConfigPath))!;
        var size = root["size"]?["height"]?.GetValue<int>() ?? root["size"]?.GetValue<int>() ?? 384;
        var mean = root["image_mean"]?[0]?.GetValue<double>() ?? 0.5;
        var std = root["image_std"]?[0]?.GetValue<double>() ?? 0.5;
        return new SiglipImageProcessor(size, mean, std);
    }

    /// <returns>[1, 3, Size, Size].</returns>
    public Tensor Preprocess(Image<Rgb24> image) => ImagePreprocessing.SiglipPixels(image, Size, Mean, Std);
}
