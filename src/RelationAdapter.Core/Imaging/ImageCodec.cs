using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Core.Imaging;

public enum OutputFormat { Png, Jpeg, Webp }

/// <summary>
/// Decodes uploads (PNG, JPEG, WebP, BMP, GIF: the first frame) into upright RGB (EXIF orientation
/// applied, transparency flattened on white) and encodes results.
/// </summary>
public static class ImageCodec
{
    public static Image<Rgb24> Decode(Stream stream)
    {
        using var decoded = Image.Load<Rgba32>(stream);
        using var firstFrame = decoded.Frames.Count > 1 ? decoded.Frames.CloneFrame(0) : decoded.Clone();
        firstFrame.Mutate(x => x.AutoOrient());
        var rgb = new Image<Rgb24>(firstFrame.Width, firstFrame.Height);
        firstFrame.ProcessPixelRows(rgb, (source, target) =>
        {
            for (var y = 0; y < source.Height; y++)
            {
                var from = source.GetRowSpan(y);
                var to = target.GetRowSpan(y);
                for (var x = 0; x < from.Length; x++)
                {
                    var p = from[x];
                    to[x] = new Rgb24(OverWhite(p.R, p.A), OverWhite(p.G, p.A), OverWhite(p.B, p.A));
                }
            }
        });
        return rgb;
    }

    public static Image<Rgb24> Decode(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        return Decode(stream);
    }

    static byte OverWhite(byte channel, byte alpha) =>
        alpha == 255 ? channel : (byte)Math.Round((channel * alpha + 255 * (255 - alpha)) / 255.0);

    public static void Encode(Image<Rgb24> image, Stream output, OutputFormat format)
    {
        IImageEncoder encoder = format switch
        {
            OutputFormat.Png => new PngEncoder(),
            OutputFormat.Jpeg => new JpegEncoder { Quality = 95 },
            OutputFormat.Webp => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
        image.Save(output, encoder);
    }

    public static byte[] Encode(Image<Rgb24> image, OutputFormat format)
    {
        using var stream = new MemoryStream();
        Encode(image, stream, format);
        return stream.ToArray();
    }

    public static string ContentType(OutputFormat format) => format switch
    {
        OutputFormat.Png => "image/png",
        OutputFormat.Jpeg => "image/jpeg",
        OutputFormat.Webp => "image/webp",
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };
}
