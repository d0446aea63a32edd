using RelationAdapter.Core.Training;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Core.Tests.Training;

/// <summary>Small synthetic edits for training tests: a seeded pattern as the source and its recoloured inverse as the target.</summary>
public static class TrainingData
{
    public static TrainingImages Sample(string id, int seed, int size = 32)
    {
        var random = new Random(seed);
        var (r, g, b) = (random.Next(256), random.Next(256), random.Next(256));
        Image<Rgb24> Pattern(Func<int, int, Rgb24> pixel)
        {
            var image = new Image<Rgb24>(size, size);
            for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                image[x, y] = pixel(x, y);
            return image;
        }
        Rgb24 Source(int x, int y) => new((byte)((x * 8 + r) % 256), (byte)((y * 8 + g) % 256), (byte)(((x + y) * 4 + b) % 256));
        Rgb24 Edited(int x, int y)
        {
            var s = Source(x, y);
            return new Rgb24((byte)(255 - s.B), (byte)(255 - s.R), (byte)(255 - s.G));
        }
        return new TrainingImages(id, Pattern(Source), Pattern(Edited), Pattern(Source), Pattern(Edited), $"recolour sample {id}");
    }

    /// <summary>Writes a sample's images as PNGs and returns its JSON Lines record (paths relative to <paramref name="folder"/>).</summary>
    public static string WriteRecord(string folder, TrainingImages sample)
    {
        string Save(Image<Rgb24> image, string role)
        {
            var name = $"{sample.Id}-{role}.png";
            image.SaveAsPng(Path.Combine(folder, name));
            return name;
        }
        return System.Text.Json.JsonSerializer.Serialize(new
        {
            id = sample.Id,
            cond1 = Save(sample.PromptImage, "cond1"),
            cond2 = Save(sample.ReferenceImage, "cond2"),
            source = Save(sample.Source, "source"),
            target = Save(sample.Target, "target"),
            text = sample.Text,
        });
    }
}
