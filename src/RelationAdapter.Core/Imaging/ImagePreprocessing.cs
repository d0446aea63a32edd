using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Advanced;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Imaging;

/// <summary>The reference's image preparation: exemplar padding, SigLIP input and source sizing.</summary>
public static class ImagePreprocessing
{
    public const int ExemplarLongSide = 512;

    static readonly (int W, int H)[] RegularRatios = [(3, 4), (4, 3), (1, 1), (16, 9), (9, 16)];

    /// <summary>The canvas <see cref="PadToRegularRatio"/> pads a <paramref name="width"/> × <paramref name="height"/> image to.</summary>
    public static (int Width, int Height) RegularRatioCanvas(int width, int height)
    {
        var aspect = (double)width / height;
        var best = RegularRatios[0];
        foreach (var ratio in RegularRatios)
            if (Math.Abs((double)ratio.W / ratio.H - aspect) < Math.Abs((double)best.W / best.H - aspect))
                best = ratio;
        return aspect >= (double)best.W / best.H
            ? (width, (int)((double)width * best.H / best.W))
            : ((int)((double)height * best.W / best.H), height);
    }

    /// <summary>
    /// Pads the image centred on white to the closest of 3:4, 4:3, 1:1, 16:9, 9:16 (first minimum wins),
    /// then scales it bilinearly so its long side is <paramref name="longSide"/>.
    /// </summary>
    public static Image<Rgb24> PadToRegularRatio(Image<Rgb24> image, int longSide = ExemplarLongSide)
    {
        var (targetW, targetH) = RegularRatioCanvas(image.Width, image.Height);

        // The source's configuration: an upload's memory comes from its decoder's bounded pool, not the process-wide one.
        using var padded = new Image<Rgb24>(image.GetConfiguration(), targetW, targetH, new Rgb24(255, 255, 255));
        var offset = new Point((targetW - image.Width) / 2, (targetH - image.Height) / 2);
        padded.Mutate(x => x.DrawImage(image, offset, 1f));

        var scale = (double)longSide / Math.Max(targetW, targetH);
        var newW = (int)Math.Round(targetW * scale, MidpointRounding.ToEven);
        var newH = (int)Math.Round(targetH * scale, MidpointRounding.ToEven);
        return padded.Clone(x => x.Resize(newW, newH, KnownResamplers.Triangle));
    }

    /// <summary>SigLIP input: bicubic to size×size ignoring aspect, x/255, (x − mean)/std: [1, 3, S, S].</summary>
    public static Tensor SiglipPixels(Image<Rgb24> image, int size, double mean = 0.5, double std = 0.5)
    {
        using var resized = image.Clone(x => x.Resize(size, size, KnownResamplers.Bicubic));
        using var unit = ImageTensors.ToUnitNchw(resized);
        using var centred = unit - mean;
        return centred / std;
    }

    /// <summary>
    /// CLIP input: bicubic resize (the shortest edge to <paramref name="shortestEdge"/>, aspect kept and the long
    /// edge truncated as transformers does, or exactly <paramref name="resizeTo"/>), centre crop, x/255,
    /// per-channel (x − mean)/std: [1, 3, crop height, crop width].
    /// </summary>
    public static Tensor ClipPixels(Image<Rgb24> image, int shortestEdge, (int Height, int Width)? resizeTo, (int Height, int Width) crop,
        IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        var (height, width) = resizeTo ?? (image.Height <= image.Width
            ? (shortestEdge, (int)(shortestEdge * (double)image.Width / image.Height))
            : ((int)(shortestEdge * (double)image.Height / image.Width), shortestEdge));
        using var resized = image.Width == width && image.Height == height
            ? image.Clone()
            : image.Clone(x => x.Resize(width, height, KnownResamplers.Bicubic));
        var top = (height - crop.Height) / 2;
        var left = (width - crop.Width) / 2;
        if (top < 0 || left < 0)
            throw new ArgumentException($"the crop {crop.Width}x{crop.Height} is larger than the resized {width}x{height} image.");
        resized.Mutate(x => x.Crop(new Rectangle(left, top, crop.Width, crop.Height)));
        using var scope = NewDisposeScope();
        var unit = ImageTensors.ToUnitNchw(resized);
        var meanTensor = tensor(mean.Select(m => (float)m).ToArray()).view(1, 3, 1, 1);
        var stdTensor = tensor(std.Select(s => (float)s).ToArray()).view(1, 3, 1, 1);
        return ((unit - meanTensor) / stdTensor).MoveToOuterDisposeScope();
    }

    /// <summary>The size the source is edited at: long side at most <paramref name="maxSide"/>, both sides floored to multiples of 16.</summary>
    public static (int Width, int Height) SourceSize(int width, int height, int maxSide)
    {
        var scale = Math.Min(1.0, (double)maxSide / Math.Max(width, height));
        var w = (int)Math.Floor(width * scale) / 16 * 16;
        var h = (int)Math.Floor(height * scale) / 16 * 16;
        if (w < 16 || h < 16)
            throw new ArgumentException($"a {width}x{height} source is too small or too narrow: each side must reach 16 pixels at long side {maxSide}.");
        return (w, h);
    }

    /// <summary>The source resized to its edit size (Lanczos, only when the size changes); the same image when it already has it.</summary>
    public static Image<Rgb24> AtEditSize(Image<Rgb24> source, int width, int height) =>
        source.Width == width && source.Height == height ? source : source.Clone(x => x.Resize(width, height, KnownResamplers.Lanczos3));

    /// <summary>The source at its edit size as [1, 3, H, W] in [-1, 1].</summary>
    public static Tensor SourcePixels(Image<Rgb24> source, int width, int height)
    {
        var sized = AtEditSize(source, width, height);
        try
        {
            using var unit = ImageTensors.ToUnitNchw(sized);
            using var doubled = unit * 2;
            return doubled - 1;
        }
        finally
        {
            if (!ReferenceEquals(sized, source)) sized.Dispose();
        }
    }
}
