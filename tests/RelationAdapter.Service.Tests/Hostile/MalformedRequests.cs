using System.Text;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Hostile;

/// <summary>
/// A request as raw bytes. <paramref name="HangsUp"/>: the client closes its side after the body (a body cut
/// short); Kestrel then aborts the request, so the answer may never arrive: a closed connection is fine too.
/// </summary>
public sealed record MalformedRequest(string Name, string Head, byte[] Body, int ExpectedStatus, string ExpectedType, bool HangsUp = false);

/// <summary>Requests that break HTTP or multipart framing, each with the problem it must get.</summary>
public static class MalformedRequests
{
    const string Boundary = "fuzzboundary";

    public static IEnumerable<MalformedRequest> For(string path, long maxRequestBytes)
    {
        var form = Multipart(Boundary, ValidFields(path));
        string Head(string? contentType, long? length, params string[] extra) =>
            string.Join("\r\n", new[] { $"POST {path} HTTP/1.1", "Host: localhost", "Connection: close" }
                .Concat(contentType is null ? [] : [$"Content-Type: {contentType}"])
                .Concat(length is null ? [] : [$"Content-Length: {length}"])
                .Concat(extra));
        var multipart = $"multipart/form-data; boundary={Boundary}";

        yield return new("no content type", Head(null, form.Length), form, 415, "unsupported-media-type");
        yield return new("text/plain", Head("text/plain", form.Length), form, 415, "unsupported-media-type");
        yield return new("urlencoded", Head("application/x-www-form-urlencoded", 9), "prompt=hi"u8.ToArray(), 415, "unsupported-media-type");
        yield return new("multipart without boundary", Head("multipart/form-data", form.Length), form, 400, "malformed-request");
        var longBoundary = new string('b', 200);
        var longForm = Multipart(longBoundary, ValidFields(path));
        yield return new("boundary of 200 characters", Head($"multipart/form-data; boundary={longBoundary}", longForm.Length), longForm, 400, "malformed-request");
        var unterminated = form[..^(Boundary.Length + 6)];
        yield return new("unterminated multipart", Head(multipart, unterminated.Length), unterminated, 400, "malformed-request");
        yield return new("body shorter than its Content-Length", Head(multipart, form.Length + 100_000), form, 400, "malformed-request", HangsUp: true);
        var lfOnly = Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(form).Replace("\r\n", "\n"));
        yield return new("LF-only line endings", Head(multipart, lfOnly.Length), lfOnly, 400, "malformed-request");
        var manyFields = Multipart(Boundary, Enumerable.Range(0, 2000).Select(i => ($"f{i}", (object)"x")));
        yield return new("2000 fields", Head(multipart, manyFields.Length), manyFields, 400, "malformed-request");
        var longHeader = Encoding.ASCII.GetBytes($"--{Boundary}\r\nContent-Disposition: form-data; name=\"prompt\"\r\nX-Pad: {new string('p', 20_000)}\r\n\r\nhi\r\n--{Boundary}--\r\n");
        yield return new("part header of 20 KB", Head(multipart, longHeader.Length), longHeader, 400, "malformed-request");
        yield return new("Content-Length over the limit", Head(multipart, maxRequestBytes + 1), form, 413, "request-too-large");
        yield return new("bad chunk size", Head(multipart, null, "Transfer-Encoding: chunked"), "zz\r\nhello\r\n0\r\n\r\n"u8.ToArray(), 400, "malformed-request");

        if (path.EndsWith("edits"))
        {
            var twice = Multipart(Boundary, [.. ValidFields(path), ("output_format", "jpeg"), ("output_format", "webp")]);
            yield return new("output_format twice", Head(multipart, twice.Length), twice, 400, "validation");
            // One source is in the valid fields; the default limit is 4 (Limits:MaxSourcesPerEdit).
            var fiveSources = Multipart(Boundary, [.. ValidFields(path), .. Enumerable.Repeat<(string, object)>(("source_image", Api.Source), 4)]);
            yield return new("five source images", Head(multipart, fiveSources.Length), fiveSources, 400, "validation");
        }
    }

    static List<(string Name, object Value)> ValidFields(string path) => path.EndsWith("edits")
        ? [("prompt", "hi"), ("steps", "1"), ("source_image", Api.Source), ("prompt_image", Api.Before), ("reference_image", Api.After)]
        : [("prompt_image", Api.Before), ("reference_image", Api.After)];

    /// <summary>A multipart/form-data body; byte[] values become image files.</summary>
    public static byte[] Multipart(string boundary, IEnumerable<(string Name, object Value)> fields)
    {
        using var body = new MemoryStream();
        void Write(string text) => body.Write(Encoding.UTF8.GetBytes(text));
        foreach (var (name, value) in fields)
        {
            Write($"--{boundary}\r\n");
            if (value is byte[] file)
            {
                Write($"Content-Disposition: form-data; name=\"{name}\"; filename=\"{name}.png\"\r\nContent-Type: image/png\r\n\r\n");
                body.Write(file);
                Write("\r\n");
            }
            else
            {
                Write($"Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
            }
        }
        Write($"--{boundary}--\r\n");
        return body.ToArray();
    }
}
