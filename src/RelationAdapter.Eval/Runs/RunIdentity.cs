using System.Security.Cryptography;
using System.Text;
using RelationAdapter.Core.Data;

namespace RelationAdapter.Eval.Runs;

/// <summary>
/// Content fingerprints of what a run's predictions depend on besides its settings: the weight files and the samples.
/// Paths alone do not tell runs apart: a checkpoint or a data file overwritten in place keeps its path.
/// </summary>
public static class RunIdentity
{
    /// <summary>
    /// The adapter and LoRA files hashed by content; the FLUX and SigLIP folders (tens of gigabytes) by their files'
    /// names, sizes and write times. A service is known by its address only.
    /// </summary>
    public static string OfModel(RunSettings settings)
    {
        var parts = new StringBuilder(settings.Mode).Append('|').Append(settings.Preset ?? settings.Service);
        foreach (var file in new[] { settings.Adapter, settings.Lora })
            parts.Append('|').Append(file is not null && File.Exists(file) ? HashFile(file) : "-");
        foreach (var directory in new[] { settings.FluxDirectory, settings.SiglipDirectory })
            parts.Append('|').Append(directory is not null && Directory.Exists(directory) ? ListingOf(directory) : "-");
        return Hash(parts.ToString());
    }

    /// <summary>Every sample's fields (ids, texts, task, category, split) and the content of every image it names.</summary>
    public static string OfData(IReadOnlyList<RelationSample> samples)
    {
        var images = new Dictionary<string, string>(StringComparer.Ordinal);
        var parts = new StringBuilder();
        foreach (var sample in samples)
        {
            parts.AppendJoin('\u001f', sample.Id, sample.Text, sample.Task ?? "", sample.Category ?? "", sample.Split ?? "");
            foreach (var image in sample.ImagePaths)
            {
                if (!images.TryGetValue(image, out var hash)) images[image] = hash = HashFile(image);
                parts.Append('\u001f').Append(hash);
            }
            parts.Append('\u001e');
        }
        return Hash(parts.ToString());
    }

    static string ListingOf(string directory) => string.Join(';',
        new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories)
            .Select(f => $"{Path.GetRelativePath(directory, f.FullName)}:{f.Length}:{f.LastWriteTimeUtc.Ticks}")
            .Order(StringComparer.Ordinal));

    static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
