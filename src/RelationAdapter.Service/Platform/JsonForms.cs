using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// A JSON request body as the multipart form it stands for: the same field names and values, its image fields holding
/// http(s) URLs or data: URIs (<c>source_image</c> one or an array) whose bytes are fetched here into the form's files.
/// From then on a JSON request is read, validated, fingerprinted and admitted exactly as the form would be.
/// </summary>
public static class JsonForms
{
    /// <summary>The fields whose values name images; the rest are the form's plain fields.</summary>
    public static readonly string[] ImageFields = ["prompt_image", "reference_image", "source_image"];

    /// <summary>The fields that are JSON objects in a JSON body and their JSON text in a form.</summary>
    public static readonly string[] ObjectFields = ["metadata"];

    public static bool IsJson(HttpRequest request) => request.HasJsonContentType();

    public static async Task<(IFormCollection? Form, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, RemoteImages images, CancellationToken cancellation)
    {
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: cancellation);
        }
        catch (JsonException e)
        {
            return (null, Problems.Problem(StatusCodes.Status400BadRequest, Problems.Types.MalformedRequest, "The request body could not be read.",
                $"The body is not valid JSON: {e.Message}"));
        }
        using var _ = document;
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            return (null, Problems.InvalidField("body", "must be a JSON object of the form's fields."));

        var errors = new Dictionary<string, string[]>();
        var fields = new Dictionary<string, StringValues>(StringComparer.Ordinal);
        var wanted = new List<(string Field, string Reference)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            var (name, value) = (property.Name, property.Value);
            // As a repeated form field is refused: the parser would otherwise keep the last value without a word.
            if (!seen.Add(name))
            {
                errors[name] = ["is given twice."];
                continue;
            }
            if (ImageFields.Contains(name))
            {
                var references = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value];
                if (references.Count == 0)
                    errors[name] = ["needs at least one image URL."];
                else if (references.Any(reference => reference.ValueKind != JsonValueKind.String))
                    errors[name] = ["must be an image URL (http, https or data:) or, for source_image, an array of them."];
                else wanted.AddRange(references.Select(reference => (name, reference.GetString()!)));
                continue;
            }
            switch (value.ValueKind)
            {
                case JsonValueKind.Null: break;
                case JsonValueKind.String: fields[name] = value.GetString(); break;
                case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False: fields[name] = value.GetRawText(); break;
                // An object field (metadata) travels as its JSON text, as a form carries it.
                case JsonValueKind.Object when ObjectFields.Contains(name): fields[name] = value.GetRawText(); break;
                case JsonValueKind.Array when value.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String):
                    fields[name] = new StringValues(value.EnumerateArray().Select(item => item.GetString()).ToArray());
                    break;
                default: errors[name] = ["must be a string, a number, a boolean or an array of strings."]; break;
            }
        }
        if (errors.Count > 0) return (null, Problems.InvalidFields(errors));

        // Fetched together: the request waits for the slowest image, not for their sum.
        var fetched = await Task.WhenAll(wanted.Select(async image => (image.Field, image.Reference, Result: await images.ReadAsync(image.Field, image.Reference, cancellation))));
        var files = new FormFileCollection();
        foreach (var (field, reference, (bytes, refusal)) in fetched)
        {
            if (refusal is var (status, detail))
                return (null, Problems.Problem(status, status == StatusCodes.Status413PayloadTooLarge ? Problems.Types.RequestTooLarge : Problems.Types.InvalidImage,
                    "An image could not be read.", $"'{field}': {detail}", new Dictionary<string, object?> { ["field"] = field }));
            files.Add(ReadUpload.FromBytes(field, FileName(reference), bytes!));
        }
        return (new FormCollection(fields, files), null);
    }

    static string FileName(string reference) =>
        Uri.TryCreate(reference, UriKind.Absolute, out var uri) && uri.Scheme != "data" && Path.GetFileName(uri.AbsolutePath) is { Length: > 0 } name ? name : "image";
}
