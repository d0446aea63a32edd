using System.Text.Json;
using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;

namespace RelationAdapter.Core.Data;

/// <summary>
/// The run-ready Relation252K layout: one JSON object per line with <c>cond1</c>, <c>cond2</c>, <c>source</c>,
/// <c>target</c>, <c>text</c> and optional <c>id</c> (default: the line number), <c>task</c>, <c>category</c>,
/// <c>split</c>. Bad lines are reported and skipped, never thrown.
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
        JsonObject json;
        try
        {
            if (JsonNode.Parse(line) is not JsonObject parsed) return (null, "not a JSON object");
            json = parsed;
        }
        catch (JsonException e)
        {
            return (null, $"bad JSON: {e.Message}");
        }

        var paths = new string[ImageKeys.Length];
        for (var i = 0; i < ImageKeys.Length; i++)
        {
            var relative = Text(json, ImageKeys[i]);
            if (string.IsNullOrEmpty(relative)) return (null, $"missing '{ImageKeys[i]}'");
            paths[i] = Path.GetFullPath(Path.Combine(directory, relative));
            var problem = ImageProblem(paths[i]);
            if (problem is not null) return (null, $"'{ImageKeys[i]}' {problem}");
        }
        var text = Text(json, "text");
        if (text is null) return (null, "missing 'text'");
        var id = Text(json, "id") ?? lineNumber.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (!IsSafeId(id)) return (null, $"id '{id}' is not a plain file name");
        var split = Text(json, "split");
        if (split is not (null or "seen" or "unseen")) return (null, $"split '{split}' is neither 'seen' nor 'unseen'");
        return (new RelationSample(id, paths[0], paths[1], paths[2], paths[3], text, Text(json, "task"), Text(json, "category"), split), null);
    }

    static string? Text(JsonObject json, string key) => json[key] switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        var other => other.ToJsonString(),
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
