using System.Security.Cryptography;
using System.Text;
using RelationAdapter.Core.Data;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Eval.Runs;

/// <summary>
/// Content fingerprints of what a run's predictions depend on besides its settings: the weight files and the samples.
/// Paths alone do not tell runs apart: a checkpoint or a data file overwritten in place keeps its path.
/// </summary>
public static class RunIdentity
{
    /// <summary>The adapter and LoRA files and the FLUX and SigLIP folders (<see cref="ModelFiles"/>); a service by its address only.</summary>
    public static string OfModel(RunSettings settings)
    {
        var parts = new StringBuilder(settings.Mode).Append('|').Append(settings.Preset ?? settings.Service);
        foreach (var file in new[] { settings.Adapter, settings.Lora })
            parts.Append('|').Append(file is not null && File.Exists(file) ? ModelFiles.FileFingerprint(file) : "-");
        foreach (var directory in new[] { settings.FluxDirectory, settings.SiglipDirectory })
            parts.Append('|').Append(directory is not null && Directory.Exists(directory) ? ModelFiles.FolderFingerprint(directory) : "-");
        return Hash(parts.ToString());
    }

    /// <summary>
    /// Each sample's fingerprint by id: its fields (text, task, category, split) and the content of every image it
    /// names. Per sample, so a data file may gain samples or have a bad line mended and still resume.
    /// </summary>
    public static Dictionary<string, string> OfSamples(IReadOnlyList<RelationSample> samples)
    {
        var images = new Dictionary<string, string>(StringComparer.Ordinal);
        return samples.ToDictionary(sample => sample.Id, sample =>
        {
            var parts = new StringBuilder().AppendJoin('\u001f', sample.Text, sample.Task ?? "", sample.Category ?? "", sample.Split ?? "");
            foreach (var image in sample.ImagePaths)
            {
                if (!images.TryGetValue(image, out var hash)) images[image] = hash = ModelFiles.FileFingerprint(image);
                parts.Append('\u001f').Append(hash);
            }
            return Hash(parts.ToString());
        }, StringComparer.Ordinal);
    }

    /// <summary>One fingerprint of a whole data set, whatever the order of its lines.</summary>
    public static string OfData(IReadOnlyDictionary<string, string> samples) =>
        Hash(string.Join('\n', samples.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}")));

    /// <summary>
    /// The samples <paramref name="folder"/> has a prediction of that was made for another version of the sample than
    /// <paramref name="samples"/> holds (ids the manifest lacks are new, not changed): predicting, scoring or judging
    /// over them would measure a prediction against what it never aimed at.
    /// </summary>
    public static List<string> StalePredictions(RunFolder folder, RunManifest manifest, IReadOnlyDictionary<string, string> samples) =>
        manifest.SampleFingerprints is not { } recorded ? []
            : samples.Where(s => File.Exists(folder.Prediction(s.Key)) && recorded.TryGetValue(s.Key, out var then) && then != s.Value).Select(s => s.Key).ToList();

    /// <summary>The first few ids, for a message.</summary>
    public static string Some(IReadOnlyCollection<string> ids) => string.Join(", ", ids.Take(5)) + (ids.Count > 5 ? ", …" : "");

    static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
