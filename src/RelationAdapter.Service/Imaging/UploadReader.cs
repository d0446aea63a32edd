using Microsoft.AspNetCore.Http.HttpResults;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Service.Endpoints;
using RelationAdapter.Service.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Service.Imaging;

/// <summary>An uploaded image: its bytes, checked and identified, and its pixels once <see cref="Decode"/> ran.</summary>
public sealed class Upload(string field, byte[] bytes) : IDisposable
{
    public string Field { get; } = field;
    public byte[] Bytes { get; } = bytes;
    public Image<Rgb24>? Image { get; private set; }

    /// <summary>Decodes the pixels; null on success, else the problem to answer with.</summary>
    public ProblemHttpResult? Decode()
    {
        try
        {
            Image ??= ImageCodec.Decode(Bytes);
            return null;
        }
        catch (Exception e) when (e is ImageFormatException or InvalidDataException or NotSupportedException)
        {
            return UploadReader.InvalidImage(Field, $"the image could not be decoded ({e.Message}).");
        }
    }

    public void Dispose() => Image?.Dispose();
}

/// <summary>
/// The uploads of one request. Reading checks every file; decoding is a separate step, so an exemplar pair
/// whose relation tokens are cached is never decoded. Images not handed over are disposed with it.
/// </summary>
public sealed class Uploads : IDisposable
{
    readonly List<Upload> _items = [];

    public Upload this[int index] => _items[index];

    /// <summary>Reads and identifies every file, stopping at the first that is refused.</summary>
    public static async Task<(Uploads Uploads, ProblemHttpResult? Problem)> ReadAsync(IEnumerable<IFormFile> files, LimitsOptions limits,
        CancellationToken cancellation)
    {
        var uploads = new Uploads();
        foreach (var file in files)
        {
            var (upload, problem) = await UploadReader.ReadAsync(file, limits, cancellation);
            if (problem is not null) return (uploads, problem);
            uploads._items.Add(upload!);
        }
        return (uploads, null);
    }

    /// <summary>Decodes the given uploads; the first problem, if any.</summary>
    public ProblemHttpResult? Decode(params Upload[] uploads) => uploads.Select(upload => upload.Decode()).FirstOrDefault(problem => problem is not null);

    /// <summary>Someone else (a job, the worker) owns these images now.</summary>
    public void HandOver(params Image<Rgb24>?[] images) => _items.RemoveAll(upload => upload.Image is not null && images.Contains(upload.Image));

    public void Dispose()
    {
        foreach (var upload in _items) upload.Dispose();
        _items.Clear();
    }
}

/// <summary>
/// Reads an uploaded image defensively: the byte limit first, then the header is identified (format and
/// declared size), so unknown formats and decompression bombs never reach the decoder.
/// </summary>
public static class UploadReader
{
    public static async Task<(Upload? Upload, ProblemHttpResult? Problem)> ReadAsync(IFormFile file, LimitsOptions limits, CancellationToken cancellation)
    {
        var field = file.Name;
        if (file.Length > limits.MaxFileBytes)
            return (null, Problems.Problem(StatusCodes.Status413PayloadTooLarge, Problems.Types.RequestTooLarge, "A file is too large.",
                $"'{field}' is {file.Length} bytes; the limit is {limits.MaxFileBytes}.", Field(field)));
        if (file.Length == 0)
            return (null, InvalidImage(field, "the file is empty."));

        var bytes = new byte[file.Length];
        await using (var stream = file.OpenReadStream())
            await stream.ReadExactlyAsync(bytes, cancellation);

        IImageInfo? info;
        try { info = Image.Identify(bytes); }
        catch (Exception e) when (e is ImageFormatException or InvalidDataException) { return (null, InvalidImage(field, $"the header is corrupt ({e.Message}).")); }
        if (info is null)
            return (null, InvalidImage(field, "the format is not recognised (use PNG, JPEG, WebP, BMP or GIF)."));
        if ((long)info.Width * info.Height > limits.MaxPixels)
            return (null, Problems.Problem(StatusCodes.Status413PayloadTooLarge, Problems.Types.ImageTooLarge, "An image has too many pixels.",
                $"'{field}' declares {info.Width}x{info.Height} pixels; the limit is {limits.MaxPixels} pixels.", Field(field)));

        return (new Upload(field, bytes), null);
    }

    internal static ProblemHttpResult InvalidImage(string field, string detail) =>
        Problems.Problem(StatusCodes.Status400BadRequest, Problems.Types.InvalidImage, "An image is invalid.", $"'{field}': {detail}", Field(field));

    static Dictionary<string, object?> Field(string field) => new() { ["field"] = field };
}
