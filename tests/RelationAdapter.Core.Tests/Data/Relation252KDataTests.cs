using System.Text.Json.Nodes;
using RelationAdapter.Core.Data;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Core.Tests.Data;

[Trait("Category", "Unit")]
public sealed class Relation252KDataTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ra-data-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    static void SavePng(string path, int width, int height, Rgb24 left, Rgb24? right = null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            image[x, y] = x < width / 2 || right is null ? left : right.Value;
        File.WriteAllBytes(path, ImageCodec.Encode(image, OutputFormat.Png));
    }

    /// <summary>Pair k of a task: left half gray level 10k (+ task offset), right half 10k + 5.</summary>
    static Rgb24 Level(int value) => new((byte)value, (byte)value, (byte)value);

    void WriteRawTask(string task, int pairs, int offset, params JsonObject[] extra)
    {
        var group = Path.Combine(_root, "raw", task, "Group1");
        var entries = new JsonArray();
        for (var k = 0; k < pairs; k++)
        {
            SavePng(Path.Combine(group, $"p{k}.png"), 8, 4, Level(offset + 10 * k), Level(offset + 10 * k + 5));
            entries.Add(new JsonObject
            {
                ["left_image_description"] = "before", ["right_image_description"] = "after",
                ["edit_instruction"] = $"{task} edit {k}", ["img_name"] = $"p{k}.png",
            });
        }
        foreach (var entry in extra) entries.Add(entry);
        File.WriteAllText(Path.Combine(group, "labels.json"), entries.ToJsonString());
    }

    static JsonObject Entry(string imageName) => new() { ["edit_instruction"] = "x", ["img_name"] = imageName };

    static byte LevelOf(string path)
    {
        using var image = ImageCodec.Decode(File.ReadAllBytes(path));
        Assert.Equal((4, 4), (image.Width, image.Height));
        return image[0, 0].R;
    }

    [Fact]
    public void Raw_layout_becomes_rotated_samples_with_split_halves_and_reported_bad_entries()
    {
        WriteRawTask("colorize", pairs: 4, offset: 0, Entry("missing.png"), Entry("broken.png"), Entry("odd.png"), Entry("p0.png"));
        var group = Path.Combine(_root, "raw", "colorize", "Group1");
        File.WriteAllText(Path.Combine(group, "broken.png"), "not an image");
        SavePng(Path.Combine(group, "odd.png"), 7, 4, Level(1));
        WriteRawTask("sketch", pairs: 3, offset: 100);
        Directory.CreateDirectory(Path.Combine(_root, "raw", "not-a-task"));
        var categories = new Dictionary<string, string> { ["colorize"] = "Low-level" };
        var output = Path.Combine(_root, "out", "data.jsonl");

        var result = Relation252KRawBuilder.Build(new RawBuildOptions(Path.Combine(_root, "raw"), output, TestPerTask: 1, Categories: categories));

        Assert.Equal(2, result.Tasks);
        Assert.Equal(7, result.Pairs);
        Assert.Equal(["file not found", "not a decodable image", "odd width 7", "duplicate id"],
            result.Issues.Select(i => new[] { "file not found", "not a decodable image", "odd width 7", "duplicate id" }.First(i.Reason.StartsWith)));
        Assert.Equal([5, 6, 7, 8], result.Issues.Select(i => i.Line));

        // Kept pairs 0..2 rotate among themselves; held-out pair 3 takes pair 2 as its exemplar.
        var read = Relation252KJsonl.Read(output);
        Assert.Empty(read.Issues);
        var colorize = read.Samples.Where(s => s.Task == "colorize").ToList();
        Assert.Equal([(20, 25, 0, 5), (0, 5, 10, 15), (10, 15, 20, 25)],
            colorize.Select(s => ((int)LevelOf(s.PromptImage), (int)LevelOf(s.ReferenceImage), (int)LevelOf(s.Source), (int)LevelOf(s.Target))));
        Assert.Equal(["colorize edit 0", "colorize edit 1", "colorize edit 2"], colorize.Select(s => s.Text));
        Assert.All(colorize, s => Assert.Equal("Low-level", s.Category));
        Assert.All(read.Samples.Where(s => s.Task == "sketch"), s => Assert.Null(s.Category));

        var test = Relation252KJsonl.Read(Path.Combine(_root, "out", "data.test.jsonl"));
        Assert.Equal(2, test.Samples.Count);
        var heldOut = test.Samples.Single(s => s.Task == "colorize");
        Assert.Equal((20, 25, 30, 35), (LevelOf(heldOut.PromptImage), LevelOf(heldOut.ReferenceImage), LevelOf(heldOut.Source), LevelOf(heldOut.Target)));
        var heldOutImages = test.Samples.SelectMany(s => new[] { s.Source, s.Target }).ToHashSet();
        Assert.DoesNotContain(read.Samples.SelectMany(s => s.ImagePaths), heldOutImages.Contains);
        Assert.Equal(read.Samples.Count + test.Samples.Count, read.Samples.Concat(test.Samples).Select(s => s.Id).Distinct().Count());
    }

    [Fact]
    public void Task_folders_whose_names_collide_as_file_names_are_refused_naming_both_before_anything_is_written()
    {
        WriteRawTask("a b", pairs: 3, offset: 0);
        WriteRawTask("a_b", pairs: 3, offset: 100);
        WriteRawTask("c", pairs: 3, offset: 200);
        var output = Path.Combine(_root, "out", "data.jsonl");

        var refusal = Assert.Throws<InvalidDataException>(() => Relation252KRawBuilder.Build(new RawBuildOptions(Path.Combine(_root, "raw"), output)));

        Assert.Contains("'a b', 'a_b' all become 'a_b'", refusal.Message);
        Assert.DoesNotContain("'c'", refusal.Message);
        Assert.False(Directory.Exists(Path.Combine(_root, "out")));

        // A folder without labels is no task: it neither collides nor counts.
        Directory.Delete(Path.Combine(_root, "raw", "a b"), recursive: true);
        Directory.CreateDirectory(Path.Combine(_root, "raw", "a b", "notes"));
        Assert.Equal(2, Relation252KRawBuilder.Build(new RawBuildOptions(Path.Combine(_root, "raw"), output)).Tasks);
    }

    [Fact]
    public void Per_task_limit_and_seed_choose_a_reproducible_subset()
    {
        WriteRawTask("style", pairs: 6, offset: 0);
        var raw = Path.Combine(_root, "raw");
        RawBuildResult Build(string name, int seed) => Relation252KRawBuilder.Build(new RawBuildOptions(raw, Path.Combine(_root, name, "f.jsonl"), PerTask: 4, Seed: seed));

        var first = Build("a", 7);
        var again = Build("b", 7);
        var other = Build("c", 8);

        Assert.Equal(4, first.Train.Count);
        Assert.Empty(first.Test);
        Assert.Equal(first.Train.Select(s => s.Id), again.Train.Select(s => s.Id));
        Assert.NotEqual(first.Train.Select(s => s.Id), other.Train.Select(s => s.Id));
        // Still a rotation: every sample's exemplar is the previous sample's pair.
        for (var i = 0; i < first.Train.Count; i++)
        {
            var previous = first.Train[(i + first.Train.Count - 1) % first.Train.Count];
            Assert.Equal(LevelOf(previous.Source), LevelOf(first.Train[i].PromptImage));
        }
    }

    [Fact]
    public void Json_lines_resolve_paths_against_the_file_and_report_bad_lines_with_their_reason()
    {
        var dataDirectory = Path.Combine(_root, "set");
        foreach (var name in new[] { "a", "a2", "b", "b2" }) SavePng(Path.Combine(dataDirectory, "img", name + ".png"), 4, 4, Level(50));
        File.WriteAllText(Path.Combine(dataDirectory, "img", "junk.png"), "junk");
        string Line(string? id = null, string source = "img/b.png", string? split = null)
        {
            var json = new JsonObject { ["cond1"] = "img/a.png", ["cond2"] = "img/a2.png", ["source"] = source, ["target"] = "img/b2.png", ["text"] = "do it" };
            if (id is not null) json["id"] = id;
            if (split is not null) json["split"] = split;
            return json.ToJsonString();
        }
        var path = Path.Combine(dataDirectory, "f.jsonl");
        File.WriteAllLines(path, [
            Line(), Line("x", split: "unseen"), "{ not json", Line("m", source: "img/none.png"), "", Line("j", source: "img/junk.png"),
            Line("x"), Line("../escape"), Line("s", split: "other"),
        ]);

        var set = Relation252KJsonl.Read(path);

        Assert.Equal(["1", "x"], set.Samples.Select(s => s.Id));
        Assert.Equal(Path.Combine(dataDirectory, "img", "b.png"), set.Samples[0].Source);
        Assert.Equal("unseen", set.Samples[1].Split);
        Assert.Equal([3, 4, 6, 7, 8, 9], set.Issues.Select(i => i.Line));
        Assert.StartsWith("bad JSON", set.Issues[0].Reason);
        Assert.Contains("file not found", set.Issues[1].Reason);
        Assert.Contains("not a decodable image", set.Issues[2].Reason);
        Assert.StartsWith("duplicate id 'x'", set.Issues[3].Reason);
        Assert.Contains("not a plain file name", set.Issues[4].Reason);
        Assert.Contains("split", set.Issues[5].Reason);


        // Keys twice and instructions that are not text are bad lines too, with their line and reason; a number is a fine id.
        var strict = Path.Combine(dataDirectory, "strict.jsonl");
        var good = Line("g");
        File.WriteAllLines(strict, [
            good[..^1] + ",\"text\":\"b\"}", good.Replace("\"text\":\"do it\"", "\"text\":5"), good.Replace("\"text\":\"do it\"", "\"text\":{\"a\":1}"),
            good.Replace("\"id\":\"g\"", "\"id\":7"), good.Replace("\"id\":\"g\"", "\"id\":[1]"), good[..^1] + ",\"task\":true}", good,
            good.Replace("\"text\":\"do it\"", "\"text\":\"  \""),
        ]);
        var checkedSet = Relation252KJsonl.Read(strict);
        Assert.Equal(["7", "g"], checkedSet.Samples.Select(s => s.Id));
        Assert.Equal([1, 2, 3, 5, 6, 8], checkedSet.Issues.Select(i => i.Line));
        Assert.Equal(["duplicate key 'text'", "'text' is a number, not a string", "'text' is an object, not a string",
            "'id' is neither a string nor a number", "'task' is a boolean, not a string", "'text' is empty"], checkedSet.Issues.Select(i => i.Reason));

        var copy = Path.Combine(_root, "elsewhere", "copy.jsonl");
        Relation252KJsonl.Write(copy, set.Samples);
        Assert.Equal(set.Samples, Relation252KJsonl.Read(copy).Samples);
    }
}
