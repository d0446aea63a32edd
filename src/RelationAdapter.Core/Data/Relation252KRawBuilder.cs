using System.Text.Json;
using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Core.Data;

/// <summary>What <see cref="Relation252KRawBuilder.Build"/> turns into which files.</summary>
/// <param name="RawDirectory">One folder per task, each with <c>Group*/labels.json</c> and the pair images beside it.</param>
/// <param name="OutputPath">F.jsonl; the held-out samples go to F.test.jsonl, the halves under <c>images/</c> beside it.</param>
/// <param name="PerTask">At most this many samples per task (held-out ones included); null: all.</param>
/// <param name="TestPerTask">Samples per task held out into F.test.jsonl.</param>
/// <param name="Seed">Shuffles each task's pairs before the rotation; null keeps the file order.</param>
/// <param name="Categories">Task name → category.</param>
public sealed record RawBuildOptions(
    string RawDirectory,
    string OutputPath,
    int? PerTask = null,
    int TestPerTask = 0,
    int? Seed = null,
    IReadOnlyDictionary<string, string>? Categories = null)
{
    public string TestOutputPath => Path.ChangeExtension(OutputPath, null) + ".test.jsonl";

    /// <summary>Reads a <c>{"task": "category", …}</c> file.</summary>
    public static IReadOnlyDictionary<string, string> ReadCategories(string path) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path))
        ?? throw new InvalidDataException($"{path}: expected a JSON object of task → category.");
}

public sealed record RawBuildResult(int Tasks, int Pairs, IReadOnlyList<RelationSample> Train, IReadOnlyList<RelationSample> Test, IReadOnlyList<DataIssue> Issues);

/// <summary>
/// Turns the raw Relation252K layout (per task, <c>Group*/labels.json</c> entries whose image holds the pair side
/// by side, left = before, right = after) into run-ready JSON Lines by the paper's rotational permutation:
/// within a task, pair i − 1 is the exemplar (A, A′) for pair i (B, B′), the first taking the last.
/// </summary>
/// <remarks>
/// Held-out pairs never appear in F.jsonl, not even as exemplars: the training samples rotate over the kept
/// pairs only, and the held-out samples continue the chain from the last kept pair.
/// </remarks>
public static class Relation252KRawBuilder
{
    sealed record Pair(string Id, string Left, string Right, string Instruction);

    public static RawBuildResult Build(RawBuildOptions options)
    {
        if (options.PerTask is < 1) throw new ArgumentOutOfRangeException(nameof(options), "PerTask must be at least 1.");
        if (options.TestPerTask < 0) throw new ArgumentOutOfRangeException(nameof(options), "TestPerTask must not be negative.");
        var outputDirectory = Path.GetDirectoryName(Path.GetFullPath(options.OutputPath))!;
        var issues = new List<DataIssue>();
        var train = new List<RelationSample>();
        var test = new List<RelationSample>();
        var tasks = 0;
        var pairCount = 0;
        // Only folders with labels are tasks: a stray folder neither counts nor collides.
        var taskDirectories = Directory.GetDirectories(options.RawDirectory).Order(StringComparer.Ordinal)
            .Select(directory => (Directory: directory, Labels: Directory.GetDirectories(directory, "Group*").Order(StringComparer.Ordinal)
                .Select(group => Path.Combine(group, "labels.json")).Where(File.Exists).ToList()))
            .Where(task => task.Labels.Count > 0).ToList();
        RefuseCollidingTaskNames(options.RawDirectory, taskDirectories.Select(task => task.Directory).ToList());
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (taskDirectory, labelFiles) in taskDirectories)
        {
            tasks++;
            var task = Path.GetFileName(taskDirectory);
            var imageDirectory = Path.Combine(outputDirectory, "images", SafeName(task));
            var pairs = labelFiles.SelectMany(file => ReadPairs(file, task, imageDirectory, ids, issues)).ToList();
            pairCount += pairs.Count;
            if (options.Seed is { } seed) new Random(unchecked(seed * 31 + StableHash(task))).Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pairs));
            if (options.PerTask is { } perTask && pairs.Count > perTask) pairs.RemoveRange(perTask, pairs.Count - perTask);
            var category = options.Categories is not null && options.Categories.TryGetValue(task, out var c) ? c : null;
            var (kept, heldOut) = Split(pairs, Math.Min(options.TestPerTask, pairs.Count));
            train.AddRange(Rotate(kept, null).Select(s => Sample(s.Exemplar, s.Edited, task, category)));
            test.AddRange(Rotate(heldOut, kept.LastOrDefault()).Select(s => Sample(s.Exemplar, s.Edited, task, category)));
        }
        Relation252KJsonl.Write(options.OutputPath, train);
        Relation252KJsonl.Write(options.TestOutputPath, test);
        return new RawBuildResult(tasks, pairCount, train, test, issues);
    }

    /// <summary>
    /// Task folders whose names sanitise alike ("a b" and "a_b") would share an image folder and ids, one task's
    /// halves overwriting the other's: refused before anything is written.
    /// </summary>
    static void RefuseCollidingTaskNames(string rawDirectory, IEnumerable<string> taskDirectories)
    {
        var collisions = taskDirectories.Select(Path.GetFileName).OfType<string>().GroupBy(SafeName, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => $"{string.Join(", ", g.Select(name => $"'{name}'"))} all become '{g.Key}'")
            .ToList();
        if (collisions.Count > 0)
            throw new InvalidDataException(
                $"task folders of {rawDirectory} collide once made safe as file names " +
                $"(letters, digits, '-', '_', '.'): {string.Join("; ", collisions)}. Rename one of each.");
    }

    static (List<Pair> Kept, List<Pair> HeldOut) Split(List<Pair> pairs, int heldOut) =>
        (pairs[..^heldOut], pairs[^heldOut..]);

    /// <summary>Pair i is edited with pair i − 1 as its exemplar; the first takes <paramref name="before"/> or, without it, the last.</summary>
    static IEnumerable<(Pair Exemplar, Pair Edited)> Rotate(List<Pair> pairs, Pair? before)
    {
        if (pairs.Count == 0 || (before is null && pairs.Count < 2)) yield break;
        for (var i = 0; i < pairs.Count; i++)
            yield return (i > 0 ? pairs[i - 1] : before ?? pairs[^1], pairs[i]);
    }

    static RelationSample Sample(Pair exemplar, Pair edited, string task, string? category) =>
        new(edited.Id, exemplar.Left, exemplar.Right, edited.Left, edited.Right, edited.Instruction, task, category);

    static IEnumerable<Pair> ReadPairs(string labelsPath, string task, string imageDirectory, HashSet<string> ids, List<DataIssue> issues)
    {
        var groupDirectory = Path.GetDirectoryName(labelsPath)!;
        var group = Path.GetFileName(groupDirectory);
        JsonArray entries;
        try
        {
            if (JsonNode.Parse(File.ReadAllText(labelsPath)) is not JsonArray array)
            {
                issues.Add(new DataIssue(labelsPath, 1, "labels.json is not a JSON array"));
                yield break;
            }
            entries = array;
        }
        catch (JsonException e)
        {
            issues.Add(new DataIssue(labelsPath, 1, $"bad JSON: {e.Message}"));
            yield break;
        }

        for (var index = 0; index < entries.Count; index++)
        {
            var (pair, reason) = SplitPair(entries[index], task, group, groupDirectory, imageDirectory, ids);
            if (pair is null) issues.Add(new DataIssue(labelsPath, index + 1, reason!));
            else yield return pair;
        }
    }

    static (Pair? Pair, string? Reason) SplitPair(JsonNode? entry, string task, string group, string groupDirectory, string imageDirectory, HashSet<string> ids)
    {
        if (entry is not JsonObject json) return (null, "entry is not a JSON object");
        var imageName = (json["img_name"] as JsonValue)?.TryGetValue<string>(out var n) == true ? n : null;
        if (string.IsNullOrEmpty(imageName)) return (null, "missing 'img_name'");
        var instruction = (json["edit_instruction"] as JsonValue)?.TryGetValue<string>(out var t) == true ? t : null;
        if (instruction is null) return (null, "missing 'edit_instruction'");
        var imagePath = Path.GetFullPath(Path.Combine(groupDirectory, imageName));
        var id = SafeName($"{task}-{group}-{Path.GetFileNameWithoutExtension(imageName)}");
        if (ids.Contains(id)) return (null, $"duplicate id '{id}' (the same image listed twice, or names that differ only in characters a file name cannot hold)");
        if (!File.Exists(imagePath)) return (null, $"file not found: {imagePath}");

        Image<Rgb24> image;
        try
        {
            image = ImageCodec.Decode(File.ReadAllBytes(imagePath));
        }
        catch (Exception e) when (e is ImageFormatException or UnknownImageFormatException or InvalidImageContentException or NotSupportedException)
        {
            return (null, $"not a decodable image: {imagePath} ({e.Message})");
        }
        using (image)
        {
            if (image.Width % 2 != 0) return (null, $"odd width {image.Width}: the pair image cannot be split into two halves ({imagePath})");
            ids.Add(id);
            var half = image.Width / 2;
            Directory.CreateDirectory(imageDirectory);
            var left = Path.Combine(imageDirectory, id + "_left.png");
            var right = Path.Combine(imageDirectory, id + "_right.png");
            SaveCrop(image, new Rectangle(0, 0, half, image.Height), left);
            SaveCrop(image, new Rectangle(half, 0, half, image.Height), right);
            return (new Pair(id, left, right, instruction), null);
        }
    }

    static void SaveCrop(Image<Rgb24> image, Rectangle area, string path)
    {
        using var crop = image.Clone(x => x.Crop(area));
        File.WriteAllBytes(path, ImageCodec.Encode(crop, OutputFormat.Png));
    }

    static string SafeName(string name) =>
        new(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray());

    /// <summary>string.GetHashCode differs between processes; the shuffle must not.</summary>
    static int StableHash(string text)
    {
        var hash = 17;
        foreach (var c in text) hash = unchecked(hash * 31 + c);
        return hash;
    }
}
