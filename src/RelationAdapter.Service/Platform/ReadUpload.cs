using System.Security.Cryptography;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// An uploaded file as admission read it, once: its bytes (kept when within <c>Limits:MaxFileBytes</c>, the copy
/// the image checks and the decoder use) and their SHA-256 (what the idempotency fingerprint takes). Nothing after
/// admission reads the request's file again.
/// </summary>
public sealed class ReadUpload : IFormFile
{
    readonly IFormFile _received;

    ReadUpload(IFormFile received, byte[]? bytes, byte[] sha256)
    {
        _received = received;
        Bytes = bytes;
        Sha256 = sha256;
    }

    /// <summary>An image a JSON body carried (a <c>data:</c> URI or a fetched URL), already read within the limits.</summary>
    public static ReadUpload FromBytes(string field, string fileName, byte[] bytes) =>
        new(new FormFile(Stream.Null, 0, bytes.Length, field, fileName) { Headers = new HeaderDictionary() }, bytes, SHA256.HashData(bytes));

    /// <summary>The file's bytes; null when it is larger than the limit (it is refused, never decoded).</summary>
    public byte[]? Bytes { get; }
    public byte[] Sha256 { get; }

    public string ContentType => _received.ContentType;
    public string ContentDisposition => _received.ContentDisposition;
    public IHeaderDictionary Headers => _received.Headers;
    public long Length => _received.Length;
    public string Name => _received.Name;
    public string FileName => _received.FileName;

    public Stream OpenReadStream() => new MemoryStream(Bytes ?? throw new InvalidOperationException($"'{Name}' is over the size limit; it was not kept."), writable: false);
    public void CopyTo(Stream target) => OpenReadStream().CopyTo(target);
    public Task CopyToAsync(Stream target, CancellationToken cancellation = default) => OpenReadStream().CopyToAsync(target, cancellation);

    /// <summary>The file as admission read it (every file of a form goes through <see cref="ReadAllAsync"/> first).</summary>
    public static ReadUpload Of(IFormFile file) =>
        file as ReadUpload ?? throw new InvalidOperationException($"'{file.Name}' reached admission without being read by UploadAdmission.");

    /// <summary>The form with each file read once: hashed, and kept when within <paramref name="maxFileBytes"/>.</summary>
    public static async Task<IFormCollection> ReadAllAsync(IFormCollection form, long maxFileBytes, CancellationToken cancellation)
    {
        var files = new FormFileCollection();
        foreach (var file in form.Files) files.Add(file as ReadUpload ?? await ReadAsync(file, maxFileBytes, cancellation));
        return new FormCollection(form.Keys.ToDictionary(key => key, key => form[key], StringComparer.Ordinal), files);
    }

    static async Task<ReadUpload> ReadAsync(IFormFile file, long maxFileBytes, CancellationToken cancellation)
    {
        await using var stream = file.OpenReadStream();
        if (file.Length > maxFileBytes)
            return new ReadUpload(file, null, await SHA256.HashDataAsync(stream, cancellation));
        var bytes = new byte[file.Length];
        await stream.ReadExactlyAsync(bytes, cancellation);
        return new ReadUpload(file, bytes, SHA256.HashData(bytes));
    }
}
