using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Core.Imaging;

public enum OutputFormat { Png, Jpeg, Webp }

/// <summary>What an image's header declares.</summary>
public sealed record ImageHeader(string Format, int Width, int Height);

/// <summary>
/// Decodes uploads (PNG, JPEG, WebP, BMP, GIF: the first frame) into upright RGB (EXIF orientation
/// applied, transparency flattened on white) and encodes results.
/// </summary>
/// <remarks>
/// Uploads are hostile, so decoding is bounded: only the five formats above are recognised (TIFF, TGA and
/// PBM are refused: multi-page and unbounded), only the first frame of an animation is decoded (GIF by its
/// decoder's option; ImageSharp 2.1 reads APNG's default image only and refuses animated WebP — on an upgrade
/// to ImageSharp 3, DecoderOptions.MaxFrames = 1 keeps this true), and
/// PNG, GIF and WebP metadata is skipped without being read — a PNG text or ICC chunk is deflate-compressed
/// and can inflate to gigabytes. JPEG keeps its metadata for the EXIF orientation: its segments are at
/// most 64 KB each and never inflated. Decoded images come from a small memory pool of their own.
/// </remarks>
public static class ImageCodec
{
    /// <summary>The decoders uploads go through.</summary>
    public static Configuration Decoding { get; } = CreateDecodingConfiguration();

    static Configuration CreateDecodingConfiguration()
    {
        var configuration = new Configuration(new PngConfigurationModule(), new JpegConfigurationModule(), new GifConfigurationModule(),
            new BmpConfigurationModule(), new WebpConfigurationModule())
        {
            // The default pool keeps up to an eighth of the machine's memory after a large decode; uploads must not pin that much.
            MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions { MaximumPoolSizeMegabytes = 64 }),
        };
        var formats = configuration.ImageFormatsManager;
        formats.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        formats.SetDecoder(GifFormat.Instance, new GifDecoder { IgnoreMetadata = true, DecodingMode = FrameDecodingMode.First });
        formats.SetDecoder(WebpFormat.Instance, new WebpDecoder { IgnoreMetadata = true });
        return configuration;
    }

    /// <summary>The format and size a header declares, without decoding pixels; null when no accepted format matches.</summary>
    public static ImageHeader? Identify(byte[] bytes)
    {
        var info = Image.Identify(Decoding, bytes, out var format);
        return info is null || format is null ? null : new ImageHeader(format.Name, info.Width, info.Height);
    }

    public static Image<Rgb24> Decode(Stream stream)
    {
        using var decoded = Image.Load<Rgba32>(Decoding, stream);
        decoded.Mutate(x => x.AutoOrient());
        var rgb = new Image<Rgb24>(Decoding, decoded.Width, decoded.Height);
        decoded.ProcessPixelRows(rgb, (source, target) =>
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
