using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Metrics;

/// <summary>The pixel metric of the paper's evaluation.</summary>
public static class ImageMetrics
{
    /// <summary>
    /// Mean squared error of RGB values in [0, 1] over pixels and channels; the prediction is resized (bicubic)
    /// to the target's size when they differ.
    /// </summary>
    public static double Mse(Image<Rgb24> prediction, Image<Rgb24> target)
    {
        var sized = prediction.Width == target.Width && prediction.Height == target.Height
            ? prediction
            : prediction.Clone(x => x.Resize(target.Width, target.Height, KnownResamplers.Bicubic));
        try
        {
            using var scope = NewDisposeScope();
            var difference = ImageTensors.ToUnitNchw(sized).to(ScalarType.Float64) - ImageTensors.ToUnitNchw(target).to(ScalarType.Float64);
            return difference.square().mean().item<double>();
        }
        finally
        {
            if (!ReferenceEquals(sized, prediction)) sized.Dispose();
        }
    }
}
