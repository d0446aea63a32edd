using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Eval.Tests.Support;

/// <summary>A small Relation252K set made by the test, in both layouts, with bad lines in each.</summary>
public static class Fixture
{
    /// <summary>A smooth picture that differs by <paramref name="seed"/>.</summary>
    public static Image<Rgb24> Picture(int width, int height, int seed)
    {
        var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            image[x, y] = new Rgb24((byte)((x * 4 + seed * 37) % 256), (byte)((y * 5 + seed * 91) % 256), (byte)((x + y + seed * 53) % 256));
        return image;
    }

    public static void SavePng(Image<Rgb24> image, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, ImageCodec.Encode(image, OutputFormat.Png));
    }

    /// <summary>
    /// Two tasks of three 128×48 pairs (64×48 halves) each; bad entries: a missing file, an undecodable image, an odd width.
    /// </summary>
    public static string WriteRaw(string root)
    {
        var raw = Path.Combine(root, "raw");
        var seed = 0;
        foreach (var task in new[] { "colorize", "sketch" })
        {
            var group = Path.Combine(raw, task, "Group1");
            var entries = new JsonArray();
            for (var k = 0; k < 3; k++)
            {
                using var pair = new Image<Rgb24>(128, 48);
                using var before = Picture(64, 48, seed++);
                using var after = Picture(64, 48, seed++);
                pair.Mutate(x => x.DrawImage(before, new Point(0, 0), 1f).DrawImage(after, new Point(64, 0), 1f));
                SavePng(pair, Path.Combine(group, $"pair{k}.png"));
                entries.Add(Entry($"pair{k}.png", $"{task} it"));
            }
            entries.Add(Entry("gone.png", "missing"));
            entries.Add(Entry("broken.png", "broken"));
            entries.Add(Entry("odd.png", "odd"));
            File.WriteAllText(Path.Combine(group, "broken.png"), "no image here");
            using (var odd = Picture(65, 48, 99)) SavePng(odd, Path.Combine(group, "odd.png"));
            File.WriteAllText(Path.Combine(group, "labels.json"), entries.ToJsonString());
        }
        File.WriteAllText(Path.Combine(root, "categories.json"), """{"colorize": "Low-level", "sketch": "Style transfer"}""");
        return raw;
    }

    static JsonObject Entry(string image, string instruction) => new()
    {
        ["left_image_description"] = "before", ["right_image_description"] = "after", ["edit_instruction"] = instruction, ["img_name"] = image,
    };

    /// <summary>
    /// The run-ready layout: three good lines (one whose target is larger than the source, so the prediction is
    /// resized for MSE) and bad ones: bad JSON, a missing file, an undecodable image, a duplicate id.
    /// </summary>
    public static string WriteJsonl(string root)
    {
        var directory = Path.Combine(root, "jsonl");
        for (var i = 0; i < 8; i++)
        {
            using var image = i == 7 ? Picture(80, 60, 200 + i) : Picture(64, 48, 200 + i);
            SavePng(image, Path.Combine(directory, "img", $"{i}.png"));
        }
        File.WriteAllText(Path.Combine(directory, "img", "junk.png"), "junk");
        string Line(string? id, int a, int a1, int b, int target, string split, string source = "") => new JsonObject
        {
            ["id"] = id, ["cond1"] = $"img/{a}.png", ["cond2"] = $"img/{a1}.png", ["source"] = source == "" ? $"img/{b}.png" : source,
            ["target"] = $"img/{target}.png", ["text"] = "do as the example does", ["task"] = split == "seen" ? "t-seen" : "t-unseen", ["split"] = split,
        }.ToJsonString();
        var path = Path.Combine(directory, "set.jsonl");
        File.WriteAllLines(path, [
            Line("s1", 0, 1, 2, 3, "seen"),
            "{\"id\": \"broken",
            Line("s2", 2, 3, 4, 5, "seen"),
            Line("m", 0, 1, 2, 3, "seen", source: "img/nowhere.png"),
            Line("j", 0, 1, 2, 3, "seen", source: "img/junk.png"),
            Line("s1", 4, 5, 0, 1, "unseen"),
            Line("s3", 4, 5, 6, 7, "unseen"),
        ]);
        return path;
    }
}
