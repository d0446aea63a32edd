using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Jobs.Relations;

namespace RelationAdapter.Service.Platform;

/// <summary>An uploaded file within the byte limit whose header declares an accepted format and an allowed size.</summary>
public sealed record CheckedUpload(string Field, byte[] Bytes, ImageHeader Header);

/// <summary>An exemplar pair as uploaded (read and checked, not decoded) and its relation's content id.</summary>
public sealed record UploadedPair(CheckedUpload Before, CheckedUpload After, string RelationId);

/// <summary>
/// Lets uploads in defensively: the byte limit first, then the header (format, declared size) without
/// decoding, then the first frame is decoded — a bounded number at a time — and shrunk at once to the size
/// the pipeline uses, so a queued job never holds a full-resolution bitmap. Every refusal is a problem to
/// answer with; no decoder exception escapes.
/// </summary>
public sealed class ImageAdmission(IOptions<LimitsOptions> options) : IDisposable
{
    readonly LimitsOptions _limits = options.Value;
    readonly SemaphoreSlim _decoders = new(options.Value.ConcurrentDecodes);

    public (CheckedUpload? Upload, ProblemHttpResult? Problem) Read(IFormFile file)
    {
        var field = file.Name;
        if (file.Length > _limits.MaxFileBytes)
            return (null, Problems.Problem(StatusCodes.Status413PayloadTooLarge, Problems.Types.RequestTooLarge, "A file is too large.",
                $"'{field}' is {file.Length} bytes; the limit is {_limits.MaxFileBytes}.", Field(field)));
        if (file.Length == 0)
            return (null, InvalidImage(field, "the file is empty."));

        var bytes = ReadUpload.Of(file).Bytes!;

        ImageHeader? header;
        try { header = ImageCodec.Identify(bytes); }
        catch (Exception e) when (e is not OperationCanceledException) { return (null, InvalidImage(field, $"the header is corrupt ({e.Message}).")); }
        if (header is null)
            return (null, InvalidImage(field, "the format is not recognised (use PNG, JPEG, WebP, BMP or GIF)."));
        if (header.Width <= 0 || header.Height <= 0)
            return (null, InvalidImage(field, $"the header declares {header.Width}x{header.Height} pixels."));
        if ((long)header.Width * header.Height > _limits.MaxPixels)
            return (null, Problems.Problem(StatusCodes.Status413PayloadTooLarge, Problems.Types.ImageTooLarge, "An image has too many pixels.",
                $"'{field}' declares {header.Width}x{header.Height} pixels; the limit is {_limits.MaxPixels} pixels.", Field(field)));
        return (new CheckedUpload(field, bytes, header), null);
    }

    /// <summary>The exemplar pair of a request (both endpoints take it alike): both files read and checked, and the pair's content id.</summary>
    public (UploadedPair? Pair, ProblemHttpResult? Problem) ReadPair(IFormFile promptImage, IFormFile referenceImage, string adapterIdentity)
    {
        var (before, refused) = Read(promptImage);
        if (refused is not null) return (null, refused);
        var (after, refusedAfter) = Read(referenceImage);
        if (refusedAfter is not null) return (null, refusedAfter);
        return (new UploadedPair(before!, after!, RelationCache.IdFor(before!.Bytes, after!.Bytes, adapterIdentity)), null);
    }

    /// <summary>Both exemplars within the pixel limit once padded, decoded and padded; the caller owns them.</summary>
    public async Task<(Image<Rgb24>? Before, Image<Rgb24>? After, ProblemHttpResult? Problem)> DecodePairAsync(UploadedPair pair, CancellationToken cancellation) =>
        (CheckExemplar(pair.Before) ?? CheckExemplar(pair.After)) is { } tooLarge
            ? (null, null, tooLarge)
            : await DecodePairAsync(pair.Before, pair.After, cancellation);

    /// <summary>
    /// An exemplar is padded to a regular aspect ratio at full resolution before it is scaled down (as the
    /// reference does): a 48 × 32800 strip would pad to 605 Mpx. The padded canvas must fit the pixel limit too.
    /// </summary>
    ProblemHttpResult? CheckExemplar(CheckedUpload upload)
    {
        var (width, height) = (upload.Header.Width, upload.Header.Height);
        // Either orientation: the EXIF orientation is only applied when decoding.
        var canvas = new[] { ImagePreprocessing.RegularRatioCanvas(width, height), ImagePreprocessing.RegularRatioCanvas(height, width) }
            .Max(size => (long)size.Width * size.Height);
        return canvas <= _limits.MaxPixels ? null
            : Problems.Problem(StatusCodes.Status413PayloadTooLarge, Problems.Types.ImageTooLarge, "An image has too many pixels.",
                $"'{upload.Field}' is {width}x{height}; padded to the exemplar aspect ratio it has {canvas} pixels, over the limit of {_limits.MaxPixels}.",
                Field(upload.Field));
    }

    /// <summary>
    /// Decodes the upload's first frame and hands it to <paramref name="shrink"/>, which returns the image to
    /// keep (a smaller copy, or the decoded image itself); the caller owns the result.
    /// </summary>
    public async Task<(Image<Rgb24>? Image, ProblemHttpResult? Problem)> DecodeAsync(CheckedUpload upload,
        Func<Image<Rgb24>, Image<Rgb24>> shrink, CancellationToken cancellation)
    {
        await _decoders.WaitAsync(cancellation);
        Image<Rgb24>? decoded = null;
        try
        {
            decoded = ImageCodec.Decode(upload.Bytes);
            var kept = shrink(decoded);
            if (ReferenceEquals(kept, decoded)) decoded = null;
            return (kept, null);
        }
        // Decoders of corrupt files throw anything (format, range, null-reference, not-supported): all mean a bad upload.
        catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
        {
            return (null, InvalidImage(upload.Field, $"the image could not be decoded ({e.Message})."));
        }
        finally
        {
            decoded?.Dispose();
            _decoders.Release();
        }
    }

    /// <summary>Both exemplars decoded and padded; the caller owns them. Neither is left behind on a refusal or a cancel.</summary>
    async Task<(Image<Rgb24>? Before, Image<Rgb24>? After, ProblemHttpResult? Problem)> DecodePairAsync(CheckedUpload before, CheckedUpload after,
        CancellationToken cancellation)
    {
        var (paddedBefore, refused) = await DecodeAsync(before, ToExemplarSize, cancellation);
        if (refused is not null) return (null, null, refused);
        try
        {
            var (paddedAfter, refusedAfter) = await DecodeAsync(after, ToExemplarSize, cancellation);
            if (refusedAfter is null) return (paddedBefore, paddedAfter, null);
            paddedBefore!.Dispose();
            return (null, null, refusedAfter);
        }
        catch
        {
            paddedBefore!.Dispose();
            throw;
        }
    }

    /// <summary>Shrinks a source to the size it is edited at (the pipeline then uses it as it is).</summary>
    public static Func<Image<Rgb24>, Image<Rgb24>> ToEditSize(int maxSide) => image =>
    {
        var (width, height) = ImagePreprocessing.SourceSize(image.Width, image.Height, maxSide);
        return ImagePreprocessing.AtEditSize(image, width, height);
    };

    /// <summary>Pads and scales an exemplar to what the image encoder takes.</summary>
    static readonly Func<Image<Rgb24>, Image<Rgb24>> ToExemplarSize = image => ImagePreprocessing.PadToRegularRatio(image);

    public static ProblemHttpResult InvalidImage(string field, string detail) =>
        Problems.Problem(StatusCodes.Status400BadRequest, Problems.Types.InvalidImage, "An image is invalid.", $"'{field}': {detail}", Field(field));

    static Dictionary<string, object?> Field(string field) => new() { ["field"] = field };

    public void Dispose() => _decoders.Dispose();
}
