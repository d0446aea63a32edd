using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Core.Tests.Imaging;

[Trait("Category", "Unit")]
public class ImageCodecTests
{
    static byte[] Encode(Image image, IImageEncoder encoder)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    public static TheoryData<string> Formats => new() { "png", "jpeg", "webp", "bmp", "gif" };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Decodes_every_upload_format_to_rgb(string format)
    {
        using var image = new Image<Rgb24>(40, 30, new Rgb24(200, 40, 10));
        IImageEncoder encoder = format switch
        {
            "png" => new PngEncoder(), "jpeg" => new JpegEncoder(), "webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
            "bmp" => new BmpEncoder(), _ => new GifEncoder(),
        };
        using var decoded = ImageCodec.Decode(Encode(image, encoder));
        Assert.Equal((40, 30), (decoded.Width, decoded.Height));
        var pixel = decoded[20, 15];
        Assert.InRange(pixel.R, 180, 220);
        Assert.InRange(pixel.G, 20, 60);
    }

    [Fact]
    public void Takes_the_first_frame_of_an_animated_gif()
    {
        using var animation = new Image<Rgba32>(16, 16, new Rgba32(255, 0, 0, 255));
        using var second = new Image<Rgba32>(16, 16, new Rgba32(0, 0, 255, 255));
        animation.Frames.AddFrame(second.Frames.RootFrame);
        using var decoded = ImageCodec.Decode(Encode(animation, new GifEncoder()));
        Assert.True(decoded[8, 8].R > 200 && decoded[8, 8].B < 50, "the first (red) frame");
    }

    [Fact]
    public void Applies_exif_orientation()
    {
        using var image = new Image<Rgb24>(40, 20, new Rgb24(0, 128, 0));
        image.Metadata.ExifProfile = new ExifProfile();
        image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6); // rotate 90° clockwise to display
        using var decoded = ImageCodec.Decode(Encode(image, new JpegEncoder()));
        Assert.Equal((20, 40), (decoded.Width, decoded.Height));
    }

    [Fact]
    public void Flattens_transparency_on_white()
    {
        using var image = new Image<Rgba32>(4, 4, new Rgba32(0, 0, 0, 0));
        image[1, 1] = new Rgba32(0, 0, 0, 255);
        image[2, 2] = new Rgba32(0, 0, 0, 128);
        using var decoded = ImageCodec.Decode(Encode(image, new PngEncoder()));
        Assert.Equal(new Rgb24(255, 255, 255), decoded[0, 0]);
        Assert.Equal(new Rgb24(0, 0, 0), decoded[1, 1]);
        Assert.InRange(decoded[2, 2].R, 125, 129);
    }

    [Theory]
    [InlineData(OutputFormat.Png, "image/png")]
    [InlineData(OutputFormat.Jpeg, "image/jpeg")]
    [InlineData(OutputFormat.Webp, "image/webp")]
    public void Encodes_results(OutputFormat format, string mimeType)
    {
        using var image = new Image<Rgb24>(24, 16, new Rgb24(10, 20, 30));
        var bytes = ImageCodec.Encode(image, format);
        Assert.Equal(mimeType, Image.DetectFormat(bytes)!.DefaultMimeType);
        Assert.Equal(mimeType, ImageCodec.ContentType(format));
        using var back = ImageCodec.Decode(bytes);
        Assert.Equal((24, 16), (back.Width, back.Height));
    }
}
