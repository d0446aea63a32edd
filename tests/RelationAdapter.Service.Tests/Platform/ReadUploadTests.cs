using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

/// <summary>An upload is read once at admission: hashed, kept within the size limit, and never read from the request again.</summary>
[Trait("Category", "Unit")]
public class ReadUploadTests
{
    /// <summary>A received file that counts how often it is opened.</summary>
    sealed class CountingFile(string name, byte[] bytes) : IFormFile
    {
        public int Opened { get; private set; }
        public string ContentType => "image/png";
        public string ContentDisposition => $"form-data; name=\"{name}\"";
        public IHeaderDictionary Headers { get; } = new HeaderDictionary();
        public long Length => bytes.Length;
        public string Name => name;
        public string FileName => name + ".png";
        public Stream OpenReadStream()
        {
            Opened++;
            return new MemoryStream(bytes);
        }
        public void CopyTo(Stream target) => OpenReadStream().CopyTo(target);
        public Task CopyToAsync(Stream target, CancellationToken cancellation = default) => OpenReadStream().CopyToAsync(target, cancellation);
    }

    [Fact]
    public async Task Each_file_is_read_once_hashed_and_kept_only_within_the_limit()
    {
        byte[] small = [1, 2, 3, 4], large = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];
        var (first, second) = (new CountingFile("source_image", small), new CountingFile("prompt_image", large));
        var received = new FormCollection(new Dictionary<string, StringValues> { ["prompt"] = "make it red" }, new FormFileCollection { first, second });

        var form = await ReadUpload.ReadAllAsync(received, maxFileBytes: 16, default);

        Assert.Equal("make it red", form["prompt"].ToString());
        var kept = ReadUpload.Of(form.Files.GetFile("source_image")!);
        var refused = ReadUpload.Of(form.Files.GetFile("prompt_image")!);
        Assert.Equal(small, kept.Bytes);
        Assert.Equal(SHA256.HashData(small), kept.Sha256);
        Assert.Null(refused.Bytes);
        Assert.Equal(SHA256.HashData(large), refused.Sha256);
        Assert.Equal(64, refused.Length);

        using var again = kept.OpenReadStream();
        Assert.Equal(small, ((MemoryStream)again).ToArray());
        Assert.Equal((1, 1), (first.Opened, second.Opened));
        Assert.Throws<InvalidOperationException>(() => ReadUpload.Of(first));
    }
}
