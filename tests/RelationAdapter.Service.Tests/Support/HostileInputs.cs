using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>
/// A crafted or mutated upload and what the service must answer when it is an exemplar (null: any 4xx, or
/// 202 when it still decodes) and, where that differs, when it is the source.
/// </summary>
public sealed record HostileImage(string Name, byte[] Bytes, int? ExpectedStatus, int? ExpectedAsSource = null)
{
    public int? ExpectedFor(bool source) => source && ExpectedAsSource is { } asSource ? asSource : ExpectedStatus;
}

/// <summary>
/// Image bombs and corrupt files in every accepted format (PNG, JPEG, WebP, BMP, GIF) and a few refused
/// ones, built byte by byte so each attack is explicit, plus seeded random mutations of valid files.
/// </summary>
public static class HostileInputs
{
    const int Bad = 400, TooLarge = 413, Accepted = 202;

    /// <summary>Every crafted attack, with its expected status.</summary>
    public static IEnumerable<HostileImage> Crafted()
    {
        yield return new("empty", [], Bad);
        yield return new("text", Encoding.UTF8.GetBytes("hello, this is not an image"), Bad);
        yield return new("svg", Encoding.UTF8.GetBytes("<svg xmlns='http://www.w3.org/2000/svg' width='99999' height='99999'/>"), Bad);
        yield return new("tiff (refused format)", Tiff(), Bad);

        // PNG: compressed metadata that inflates to 64 MB (the reader must skip it, not inflate it).
        yield return new("png zTXt bomb", Png(64, 64, Chunk("zTXt", [.. "Comment"u8, 0, 0, .. Deflate(64 << 20)])), Accepted);
        yield return new("png iCCP bomb", Png(64, 64, Chunk("iCCP", [.. "icc"u8, 0, 0, .. Deflate(64 << 20)])), Accepted);
        yield return new("png iTXt bomb", Png(64, 64, Chunk("iTXt", [.. "Comment"u8, 0, 1, 0, 0, 0, .. Deflate(64 << 20)])), Accepted);
        yield return new("png 100000x100000", Png(100_000, 100_000, idatRows: 1), TooLarge);
        yield return new("png 0x0", Png(0, 0), Bad);
        yield return new("png width 2^31-1", Png(int.MaxValue, 1, idatRows: 1), TooLarge);
        yield return new("png chunk length 2 GB", [.. Png(8, 8)[..33], .. BigEndian(0x7FFF_0000), .. "tEXt"u8, 1, 2, 3], Bad);
        yield return new("png truncated IDAT", Png(64, 64)[..60], Bad);

        // GIF: a 6000x6000 screen with 30 one-pixel frames; only the first frame may be decoded.
        yield return new("gif 30 frames on 6000x6000", Gif(6000, 6000, 30), Accepted);
        yield return new("gif 65535x65535 screen", Gif(65535, 65535, 1), TooLarge);
        yield return new("gif 0x0 screen", Gif(0, 0, 1), Bad);
        yield return new("gif truncated", Gif(64, 64, 3)[..30], Bad);
        // A 48x32800 strip is 1.6 Mpx, but padded to 9:16 for the image encoder it would be 605 Mpx (as a source it is too narrow).
        yield return new("gif 48x32800 strip", Gif(48, 32800, 1), TooLarge, ExpectedAsSource: Bad);

        // BMP: negative and zero sizes, and a size far beyond the file.
        yield return new("bmp width -2000", Bmp(-2000, 2000), Bad);
        yield return new("bmp height 0", Bmp(16, 0), Bad);
        yield return new("bmp 60000x60000", Bmp(60000, 60000), TooLarge);
        yield return new("bmp 16x16 with 4 of its pixels", Bmp(16, 16), null);

        // JPEG: frame headers declaring 0 or 65500 pixels a side, and a file cut after the header.
        yield return new("jpeg 0 wide", PatchJpegSize(Encode(Picture(32, 24), new JpegEncoder()), 24, 0), Bad);
        yield return new("jpeg 65500x65500", PatchJpegSize(Encode(Picture(32, 24), new JpegEncoder()), 65500, 65500), TooLarge);
        yield return new("jpeg truncated", Encode(Picture(64, 48), new JpegEncoder())[..200], Bad);

        // WebP: a 16384x16384 canvas around a 64x64 image (decoded at the image's size), an animation, a corrupt lossless stream.
        yield return new("webp canvas 16384x16384", WebpExtended(16384, 16384, animated: false), null);
        yield return new("webp animation", WebpExtended(64, 64, animated: true), Bad);
        var lossless = Encode(Picture(32, 24), new WebpEncoder { FileFormat = WebpFileFormatType.Lossless });
        yield return new("webp corrupt lossless", Corrupt(lossless, from: 25), Bad);
        yield return new("webp truncated", lossless[..24], Bad);
    }

    /// <summary>Seeded random mutations of valid files: bit flips, cuts, inserted and zeroed ranges, swapped headers.</summary>
    public static IEnumerable<HostileImage> Mutated(int seed, int count)
    {
        var random = new Random(seed);
        var bases = ValidFiles().ToList();
        for (var i = 0; i < count; i++)
        {
            var (format, original) = bases[random.Next(bases.Count)];
            var bytes = original.ToArray();
            var kind = random.Next(5);
            switch (kind)
            {
                case 0:
                    for (var flips = random.Next(1, 24); flips > 0; flips--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes = bytes[..random.Next(1, bytes.Length)];
                    break;
                case 2:
                    var at = random.Next(bytes.Length);
                    var junk = new byte[random.Next(1, 512)];
                    random.NextBytes(junk);
                    bytes = [.. bytes[..at], .. junk, .. bytes[at..]];
                    break;
                case 3:
                    var start = random.Next(bytes.Length);
                    Array.Clear(bytes, start, Math.Min(bytes.Length - start, random.Next(1, 256)));
                    break;
                default:
                    // Header bytes (sizes, lengths, flags) set to extremes.
                    for (var n = random.Next(1, 6); n > 0; n--) bytes[random.Next(Math.Min(bytes.Length, 64))] = random.Next(2) == 0 ? (byte)0xFF : (byte)0;
                    break;
            }
            yield return new($"{format} mutation {i} (kind {kind})", bytes, null);
        }
    }

    /// <summary>Small valid files of every accepted format, the seeds of the mutations.</summary>
    public static IEnumerable<(string Format, byte[] Bytes)> ValidFiles()
    {
        using var picture = Picture(48, 32);
        yield return ("png", Encode(picture, new PngEncoder()));
        yield return ("jpeg", Encode(picture, new JpegEncoder()));
        yield return ("jpeg progressive", ProgressiveJpeg());
        yield return ("webp lossless", Encode(picture, new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }));
        yield return ("webp lossy", Encode(picture, new WebpEncoder { FileFormat = WebpFileFormatType.Lossy }));
        yield return ("bmp", Encode(picture, new BmpEncoder()));
        yield return ("gif", Gif(48, 32, 3));
    }

    static Image<Rgb24> Picture(int width, int height)
    {
        var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            image[x, y] = new Rgb24((byte)(x * 5), (byte)(y * 7), (byte)(x * y));
        return image;
    }

    static byte[] Encode(Image image, IImageEncoder encoder)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    static byte[] ProgressiveJpeg()
    {
        // ImageSharp 2.1 writes baseline only: mark the frame progressive (SOF2) so the progressive path is fuzzed too.
        var bytes = Encode(Picture(48, 32), new JpegEncoder());
        var sof = IndexOfMarker(bytes, 0xC0);
        bytes[sof + 1] = 0xC2;
        return bytes;
    }

    static byte[] Corrupt(byte[] bytes, int from)
    {
        var copy = bytes.ToArray();
        var random = new Random(from);
        for (var i = from; i < copy.Length; i += 3) copy[i] = (byte)random.Next(256);
        return copy;
    }

    static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    static byte[] Deflate(int zeros)
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var block = new byte[1 << 20];
            for (var written = 0; written < zeros; written += block.Length) zlib.Write(block);
        }
        return output.ToArray();
    }

    static byte[] Chunk(string type, byte[] data)
    {
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.HashToUInt32(typeAndData));
        return [.. BigEndian(data.Length), .. typeAndData, .. crc];
    }

    /// <summary>An RGB PNG of the given header size; its image data covers at most <paramref name="idatRows"/> rows.</summary>
    static byte[] Png(int width, int height, byte[]? extra = null, int? idatRows = null)
    {
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        var rows = Math.Min(idatRows ?? height, 1024);
        var rowBytes = (int)Math.Min(1 + (long)width * 3, 1 << 16);
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
            for (var y = 0; y < rows; y++) zlib.Write(new byte[rowBytes]);
        return [0x89, .. "PNG\r\n\u001a\n"u8, .. Chunk("IHDR", header), .. extra ?? [], .. Chunk("IDAT", raw.ToArray()), .. Chunk("IEND", [])];
    }

    /// <summary>A GIF with a logical screen of the given size and one-pixel frames.</summary>
    static byte[] Gif(int width, int height, int frames)
    {
        var output = new List<byte>();
        output.AddRange("GIF89a"u8.ToArray());
        output.AddRange(LittleEndian16(width));
        output.AddRange(LittleEndian16(height));
        output.AddRange([0x80, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF]); // global colour table of two entries
        for (var i = 0; i < frames; i++)
        {
            output.AddRange([0x21, 0xF9, 4, 0, 0, 0, 0, 0]);
            output.Add(0x2C);
            output.AddRange(LittleEndian16(i % Math.Max(1, width)));
            output.AddRange(LittleEndian16(0));
            output.AddRange(LittleEndian16(1));
            output.AddRange(LittleEndian16(1));
            output.AddRange([0, 2, 2, 0x44, 1, 0]);
        }
        output.Add(0x3B);
        return [.. output];
    }

    static byte[] LittleEndian16(int value) => [(byte)value, (byte)(value >> 8)];

    /// <summary>A 24-bit BMP header declaring the given size, with 12 bytes of pixels whatever it declares.</summary>
    static byte[] Bmp(int width, int height)
    {
        var bytes = new byte[54 + 12];
        "BM"u8.CopyTo(bytes);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), bytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), width);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), height);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(34), 12);
        return bytes;
    }

    static int IndexOfMarker(byte[] jpeg, byte marker)
    {
        for (var i = 2; i < jpeg.Length - 1; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == marker) return i;
        throw new InvalidOperationException($"no 0xFF{marker:X2} marker");
    }

    static byte[] PatchJpegSize(byte[] jpeg, int height, int width)
    {
        var sof = IndexOfMarker(jpeg, 0xC0);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 5), (ushort)height);
        BinaryPrimitives.WriteUInt16BigEndian(jpeg.AsSpan(sof + 7), (ushort)width);
        return jpeg;
    }

    static byte[] RiffChunk(string type, byte[] data)
    {
        var size = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(size, data.Length);
        return [.. Encoding.ASCII.GetBytes(type), .. size, .. data, .. data.Length % 2 == 1 ? new byte[1] : []];
    }

    static byte[] LittleEndian24(int value) => [(byte)value, (byte)(value >> 8), (byte)(value >> 16)];

    /// <summary>An extended WebP (VP8X) whose canvas has the given size, as an animation of two frames or one still image.</summary>
    static byte[] WebpExtended(int width, int height, bool animated)
    {
        var still = Encode(Picture(Math.Min(width, 64), Math.Min(height, 64)), new WebpEncoder { FileFormat = WebpFileFormatType.Lossless });
        var vp8l = still[12..]; // the VP8L chunk after "RIFF", size and "WEBP"
        byte[] header = [animated ? (byte)0x02 : (byte)0, 0, 0, 0, .. LittleEndian24(width - 1), .. LittleEndian24(height - 1)];
        var body = new List<byte>(RiffChunk("VP8X", header));
        if (animated)
        {
            body.AddRange(RiffChunk("ANIM", [255, 255, 255, 255, 0, 0]));
            for (var frame = 0; frame < 2; frame++)
                body.AddRange(RiffChunk("ANMF", [.. LittleEndian24(0), .. LittleEndian24(0), .. LittleEndian24(Math.Min(width, 64) - 1),
                    .. LittleEndian24(Math.Min(height, 64) - 1), .. LittleEndian24(100), 0, .. vp8l]));
        }
        else
        {
            body.AddRange(vp8l);
        }
        var riffSize = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(riffSize, body.Count + 4);
        return [.. "RIFF"u8, .. riffSize, .. "WEBP"u8, .. body];
    }

    static byte[] Tiff() => [.. "II*\0"u8, 8, 0, 0, 0, 0, 0];
}
