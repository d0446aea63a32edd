using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Imaging;

/// <summary>Conversions between 8-bit RGB images and tensors.</summary>
public static class ImageTensors
{
    /// <summary>[H, W, 3] uint8.</summary>
    public static Tensor ToHwcBytes(Image<Rgb24> image)
    {
        var pixels = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(pixels);
        return tensor(pixels, [image.Height, image.Width, 3]);
    }

    /// <summary>[1, 3, H, W] float32 in [0, 1].</summary>
    public static Tensor ToUnitNchw(Image<Rgb24> image)
    {
        using var hwc = ToHwcBytes(image);
        using var chw = hwc.permute(2, 0, 1).unsqueeze(0);
        using var asFloat = chw.to(ScalarType.Float32);
        return asFloat / 255f;
    }

    public static Image<Rgb24> FromHwcBytes(Tensor hwc)
    {
        using var contiguous = hwc.to(ScalarType.Byte).cpu().contiguous();
        return Image.LoadPixelData<Rgb24>(contiguous.bytes, (int)hwc.shape[1], (int)hwc.shape[0]);
    }

    /// <summary>[1, 3, H, W] in [0, 1] → 8-bit, rounding x·255 as diffusers' numpy_to_pil does.</summary>
    public static Image<Rgb24> FromUnitNchw(Tensor image)
    {
        using var scope = NewDisposeScope();
        var hwc = (image[0].permute(1, 2, 0).to(ScalarType.Float32) * 255).round().clamp(0, 255).to(ScalarType.Byte);
        return FromHwcBytes(hwc);
    }
}
