using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vision;

/// <summary>
/// CLIPImageProcessor: shortest edge to <see cref="ShortestEdge"/> (bicubic, aspect kept), or exactly
/// <see cref="ResizeTo"/> when the config gives height and width; centre crop; x/255; per-channel (x − mean)/std.
/// </summary>
public sealed record ClipImageProcessor(int ShortestEdge, (int Height, int Width) Crop, double[] Mean, double[] Std)
{
    public static readonly double[] OpenAiMean = [0.48145466, 0.4578275, 0.40821073];
    public static readonly double[] OpenAiStd = [0.26862954, 0.26130258, 0.27577711];

    /// <summary>A fixed resize (the <c>{"height", "width"}</c> form of <c>size</c>) instead of the shortest edge.</summary>
    public (int Height, int Width)? ResizeTo { get; init; }

    /// <summary>
    /// Reads either form of <c>preprocessor_config.json</c>: <c>"size": 224, "crop_size": 224</c> (openai/clip-vit-large-patch14)
    /// or the dicts <c>{"shortest_edge": n}</c> / <c>{"height": h, "width": w}</c> of newer transformers.
    /// </summary>
    public static ClipImageProcessor Read(string preprocessorConfigPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(preprocessorConfigPath))!;
        var size = root["size"];
        var crop = Dimensions(root["crop_size"]) ?? Dimensions(size) ?? (224, 224);
        var processor = new ClipImageProcessor(
            size switch
            {
                JsonValue value => value.GetValue<int>(),
                JsonObject dict when dict["shortest_edge"] is { } edge => edge.GetValue<int>(),
                _ => Math.Min(crop.Height, crop.Width),
            },
            crop,
            Channels(root["image_mean"]) ?? OpenAiMean,
            Channels(root["image_std"]) ?? OpenAiStd);
        return size is JsonObject d && d["height"] is not null ? processor with { ResizeTo = Dimensions(size) } : processor;

        static (int Height, int Width)? Dimensions(JsonNode? node) => node switch
        {
            JsonValue value => (value.GetValue<int>(), value.GetValue<int>()),
            JsonObject dict when dict["height"] is { } h && dict["width"] is { } w => (h.GetValue<int>(), w.GetValue<int>()),
            _ => null,
        };

        static double[]? Channels(JsonNode? node) => node switch
        {
            JsonArray array => array.Select(v => v!.GetValue<double>()).ToArray(),
            JsonValue value => [value.GetValue<double>(), value.GetValue<double>(), value.GetValue<double>()],
            _ => null,
        };
    }

    /// <returns>[1, 3, crop height, crop width].</returns>
    public Tensor Preprocess(Image<Rgb24> image) => ImagePreprocessing.ClipPixels(image, ShortestEdge, ResizeTo, Crop, Mean, Std);

    /// <returns>[N, 3, crop height, crop width].</returns>
    public Tensor Preprocess(IEnumerable<Image<Rgb24>> images)
    {
        using var scope = NewDisposeScope();
        return cat(images.Select(Preprocess).ToArray(), 0).MoveToOuterDisposeScope();
    }
}
