using System.Text.Json;
using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;

namespace RelationAdapter.Core.Data;

/// <summary>
/// The run-ready Relation252K layout: one JSON object per line with <c>cond1</c>, <c>cond2</c>, <c>source</c>,
/// <c>target</c>, <c>text</c> and optional <c>id</c> (default: the line number), <c>task</c>, <c>category</c>,
/// <c>split</c>, all strings (the id may be a number). Bad lines (bad JSON, a key twice, a field of the wrong kind, a missing
/// or undecodable image, a duplicate id) are reported and skipped, never thrown.
/// </summary>
public static class Relation252KJsonl
{
    static readonly string[] ImageKeys = ["cond1", "cond2", "source", "target"];

    public static RelationDataSet Read(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var samples = new List<RelationSample>();
        var issues = new List<DataIssue>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var (sample, reason) = Parse(line, lineNumber, directory);
            if (sample is not null && !ids.Add(sample.Id))
            {
                reason = $"duplicate id '{sample.Id}'";
                sample = null;
            }
            if (sample is null) issues.Add(new DataIssue(path, lineNumber, reason!));
            else samples.Add(sample);
        }
        return new RelationDataSet(samples, issues);
    }

    static (RelationSample? Sample, string? Reason) Parse(string line, int lineNumber, string directory)
    {
        var json = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.ValueKind != JsonValueKind.Object) return (null, "not a JSON object");
            // JSON allows a key twice, but which value is meant is a guess: the line is refused rather than one of them taken.
            foreach (var property in document.RootElement.EnumerateObject())
                if (!json.TryAdd(property.Name, property.Value.Clone())) return (null, $"duplicate key '{property.Name}'");
        }
        catch (JsonException e)
        {
            return (null, $"bad JSON: {e.Message}");
        }

        var paths = new string[ImageKeys.Length];
        for (var i = 0; i < ImageKeys.Length; i++)
        {
            var (relative, notText) = Text(json, ImageKeys[i]);
            if (notText is not null) return (null, notText);
            if (string.IsNullOrEmpty(relative)) return (null, $"missing '{ImageKeys[i]}'");
            paths[i] = Path.GetFullPath(Path.Combine(directory, relative));
            var problem = ImageProblem(paths[i]);
            if (problem is not null) return (null, $"'{ImageKeys[i]}' {problem}");
        }
        var fields = new Dictionary<string, string?>();
        foreach (var key in new[] { "text", "task", "category", "split" })
        {
            var (value, notText) = Text(json, key);
            if (notText is not null) return (null, notText);
            fields[key] = value;
        }
        if (fields["text"] is not { } text) return (null, "missing 'text'");
        // The edit pipeline refuses an empty instruction: caught here, with its line, not in the middle of a run.
        if (string.IsNullOrWhiteSpace(text)) return (null, "'text' is empty");
        // A number is a fine id (it is what the line number gives too); other kinds are not.
        var id = json.TryGetValue("id", out var idValue) && idValue.ValueKind == JsonValueKind.Number ? idValue.GetRawText() : Text(json, "id") switch
        {
            (_, { } notText) => null,
            (var value, _) => value ?? lineNumber.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (id is null) return (null, "'id' is neither a string nor a number");
        if (!IsSafeId(id)) return (null, $"id '{id}' is not a plain file name");
        var split = fields["split"];
        if (split is not (null or "seen" or "unseen")) return (null, $"split '{split}' is neither 'seen' nor 'unseen'");
        return (new RelationSample(id, paths[0], paths[1], paths[2], paths[3], text, fields["task"], fields["category"], split), null);
    }

    /// <summary>The string at <paramref name="key"/> (null when absent or JSON null), or why it is not one.</summary>
    static (string? Value, string? NotText) Text(Dictionary<string, JsonElement> json, string key) =>
        !json.TryGetValue(key, out var value) ? (null, null) : value.ValueKind switch
        {
            JsonValueKind.String => (value.GetString(), null),
            JsonValueKind.Null => (null, null),
            JsonValueKind.Number => (null, $"'{key}' is a number, not a string"),
            JsonValueKind.True or JsonValueKind.False => (null, $"'{key}' is a boolean, not a string"),
            JsonValueKind.Array => (null, $"'{key}' is an array, not a string"),
            _ => (null, $"'{key}' is an object, not a string"),
        };

    /// <summary>Null when the file exists and its header is a decodable image format.</summary>
    internal static string? ImageProblem(string path)
    {
        if (!File.Exists(path)) return $"file not found: {path}";
        try
        {
            using var stream = File.OpenRead(path);
            var header = new byte[Math.Min(stream.Length, 1 << 16)];
            stream.ReadExactly(header);
            return ImageCodec.Identify(header) is null ? $"not a decodable image: {path}" : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SixLabors.ImageSharp.ImageFormatException)
        {
            return $"not a decodable image: {path} ({e.Message})";
        }
    }

    /// <summary>Ids become file names, so no separators, no "..", nothing a file system may refuse.</summary>
    public static bool IsSafeId(string id) =>
        id.Length is > 0 and <= 200 && id is not ("." or "..") && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Writes samples with image paths relative to <paramref name="path"/>'s folder.</summary>
    public static void Write(string path, IEnumerable<RelationSample> samples)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        using var writer = new StreamWriter(path);
        foreach (var sample in samples)
        {
            var json = new JsonObject
            {
                ["id"] = sample.Id,
                ["cond1"] = Relative(sample.PromptImage),
                ["cond2"] = Relative(sample.ReferenceImage),
                ["source"] = Relative(sample.Source),
                ["target"] = Relative(sample.Target),
                ["text"] = sample.Text,
            };
            if (sample.Task is not null) json["task"] = sample.Task;
            if (sample.Category is not null) json["category"] = sample.Category;
            if (sample.Split is not null) json["split"] = sample.Split;
            writer.WriteLine(json.ToJsonString());
        }

        string Relative(string image) => Path.GetRelativePath(directory, image).Replace('\\', '/');
    }
}
