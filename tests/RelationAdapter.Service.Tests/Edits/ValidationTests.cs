using System.Buffers.Binary;
using System.IO.Hashing;
using System.Net;
using System.Text;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Edits;

[Trait("Category", "Service")]
public class ValidationTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    const string ProblemPrefix = "urn:relation-adapter:problem:";

    static async Task AssertProblem(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.JsonAsync();
        Assert.Equal(ProblemPrefix + type, problem.GetProperty("type").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
    }

    public static TheoryData<string, string?, string> InvalidFields => new()
    {
        { "prompt", null, "prompt" },
        { "prompt", new string('x', 2001), "prompt" },
        { "steps", "0", "steps" },
        { "steps", "51", "steps" },
        { "steps", "two", "steps" },
        { "guidance", "NaN", "guidance" },
        { "adapter_scale", "2.5", "adapter_scale" },
        { "adapter_scale", "-0.1", "adapter_scale" },
        { "seed", "-1", "seed" },
        { "seed", "99999999999999999999", "seed" },
        { "seed", "9007199254740992", "seed" },
        { "max_side", "100", "max_side" },
        { "max_side", "2048", "max_side" },
        { "output_format", "gif", "output_format" },
        { "output_format", "jpeg,webp", "output_format" },
        { "output_format", "1", "output_format" },
        { "cache_threshold", "-0.5", "cache_threshold" },
        { "cache_threshold", "11", "cache_threshold" },
        { "cache_threshold", "Infinity", "cache_threshold" },
    };

    [Theory]
    [MemberData(nameof(InvalidFields))]
    public async Task Invalid_fields_are_listed_in_a_validation_problem(string field, string? value, string reported)
    {
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { [field] = value }));
        await AssertProblem(response, HttpStatusCode.BadRequest, "validation");
        var errors = (await response.JsonAsync()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(reported, out _), $"errors should name '{reported}': {errors}");
    }

    [Fact]
    public async Task A_prompt_is_measured_in_characters_and_names_are_read_in_any_case()
    {
        var client = await factory.ReadyClientAsync();
        var emoji = string.Concat(Enumerable.Repeat("😀", 1500)); // 1500 characters, 3000 UTF-16 units
        var accepted = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?>
            { ["prompt"] = emoji, ["response_format"] = "B64_JSON", ["output_format"] = "PNG" }));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        await client.DeleteAsync(accepted.Headers.Location);

        var refused = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["prompt"] = emoji + emoji }));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("is 3000 characters; the limit is 2000.", (await refused.JsonAsync()).GetProperty("errors").GetProperty("prompt")[0].GetString());
    }

    [Theory]
    [InlineData("steps", "4", "5")]
    [InlineData("output_format", "png", "jpeg")]
    [InlineData("prompt", "first", "second")]
    [InlineData("relation_id", "rel_a", "rel_b")]
    public async Task A_repeated_field_is_reported_once_as_repeated(string field, string first, string second)
    {
        var client = await factory.ReadyClientAsync();
        var form = Api.EditForm(new Dictionary<string, string?> { [field] = first });
        form.Add(new StringContent(second), field);
        var response = await client.PostAsync("/v1/edits", form);
        await AssertProblem(response, HttpStatusCode.BadRequest, "validation");
        var errors = (await response.JsonAsync()).GetProperty("errors");
        Assert.Equal(["must be given once."], errors.GetProperty(field).EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Every_missing_field_is_listed_at_once()
    {
        var client = await factory.ReadyClientAsync();
        var form = new MultipartFormDataContent { { new StringContent("5"), "steps" } };
        var response = await client.PostAsync("/v1/edits", form);
        await AssertProblem(response, HttpStatusCode.BadRequest, "validation");
        var errors = (await response.JsonAsync()).GetProperty("errors");
        foreach (var field in new[] { "prompt", "source_image", "prompt_image", "reference_image" })
            Assert.True(errors.TryGetProperty(field, out _), field);
    }

    [Fact]
    public async Task Relation_id_and_an_exemplar_pair_together_are_refused()
    {
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["relation_id"] = "rel_x" }));
        await AssertProblem(response, HttpStatusCode.BadRequest, "validation");
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("relation_id", out _));
    }

    [Fact]
    public async Task Neither_multipart_nor_json_is_an_unsupported_media_type()
    {
        var client = await factory.ReadyClientAsync();
        foreach (var mediaType in new[] { "application/x-www-form-urlencoded", "text/plain", "multipart/mixed" })
        {
            var response = await client.PostAsync("/v1/edits", new StringContent("prompt=x", Encoding.UTF8, mediaType));
            await AssertProblem(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
            // Whether routing or the handler refused it, the same words.
            var problem = await response.JsonAsync();
            Assert.Equal("The body must be multipart/form-data or application/json.", problem.GetProperty("title").GetString());
            Assert.StartsWith($"The Content-Type is '{mediaType}", problem.GetProperty("detail").GetString());
        }

        var compressed = new ByteArrayContent([0x1f, 0x8b, 0x08, 0x00]);
        compressed.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        compressed.Headers.ContentEncoding.Add("gzip");
        var refused = await client.PostAsync("/v1/edits", compressed);
        await AssertProblem(refused, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.Contains("Content-Encoding 'gzip'", (await refused.JsonAsync()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Unknown_format_is_an_invalid_image()
    {
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/edits", Api.EditForm(source: Encoding.UTF8.GetBytes("this is not an image at all")));
        await AssertProblem(response, HttpStatusCode.BadRequest, "invalid-image");
        Assert.Equal("source_image", (await response.JsonAsync()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Corrupt_bytes_are_an_invalid_image()
    {
        var client = await factory.ReadyClientAsync();
        var truncated = Api.Png(64, 64)[..80];
        var response = await client.PostAsync("/v1/edits", Api.EditForm(before: truncated));
        await AssertProblem(response, HttpStatusCode.BadRequest, "invalid-image");
        Assert.Equal("prompt_image", (await response.JsonAsync()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Png_whose_header_claims_50000x50000_is_refused_before_decoding()
    {
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/edits", Api.EditForm(after: PngClaiming(50000, 50000)));
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge, "image-too-large");
        Assert.Equal("reference_image", (await response.JsonAsync()).GetProperty("field").GetString());
    }

    [Fact]
    public async Task Too_small_source_is_refused()
    {
        var client = await factory.ReadyClientAsync();
        var response = await client.PostAsync("/v1/edits", Api.EditForm(source: Api.Png(600, 10)));
        await AssertProblem(response, HttpStatusCode.BadRequest, "validation");
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("source_image", out _));
    }

    /// <summary>A valid PNG signature and IHDR declaring the size, followed by one tiny IDAT and IEND.</summary>
    static byte[] PngClaiming(int width, int height)
    {
        var stream = new MemoryStream();
        stream.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // RGB
        Chunk(stream, "IHDR", header);
        Chunk(stream, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(stream, "IEND", []);
        return stream.ToArray();
    }

    static void Chunk(Stream stream, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        stream.Write(length);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        stream.Write(typed);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.HashToUInt32(typed));
        stream.Write(crc);
    }
}

[Trait("Category", "Service")]
public class SizeLimitTests
{
    [Fact]
    public async Task Files_over_the_per_file_limit_and_bodies_over_the_request_limit_get_413()
    {
        await using var factory = new ServiceFactory { Settings = { ["Limits:MaxFileBytes"] = "20000", ["Limits:MaxRequestBytes"] = "200000" } };
        var client = await factory.ReadyClientAsync();

        var bigFile = await client.PostAsync("/v1/edits", Api.EditForm(source: Api.Png(200, 200)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bigFile.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:request-too-large", (await bigFile.JsonAsync()).GetProperty("type").GetString());

        var form = Api.EditForm();
        Api.AddFile(form, "padding", new byte[300_000]);
        var bigBody = await client.PostAsync("/v1/edits", form);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bigBody.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:request-too-large", (await bigBody.JsonAsync()).GetProperty("type").GetString());
    }
}
