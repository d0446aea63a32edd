using System.Text.Json;
using RelationAdapter.Core.Pipeline;
using System.Text.Json.Serialization;

namespace RelationAdapter.Eval.Runs;

/// <summary>
/// A run's folder: <c>run.json</c> (settings, model, timings), <c>pred/&lt;id&gt;.png</c> (one prediction per sample)
/// and, once scored, <c>scores.jsonl</c>. The folder's name is the run's name in reports.
/// </summary>
public sealed class RunFolder(string path)
{
    public string Path { get; } = System.IO.Path.GetFullPath(path);
    public string Name => System.IO.Path.GetFileName(Path.TrimEnd(System.IO.Path.DirectorySeparatorChar));
    public string PredictionDirectory => System.IO.Path.Combine(Path, "pred");
    public string ManifestPath => System.IO.Path.Combine(Path, "run.json");
    public string ScoresPath => System.IO.Path.Combine(Path, "scores.jsonl");

    public string Prediction(string id) => System.IO.Path.Combine(PredictionDirectory, id + ".png");

    public RunManifest ReadManifest() =>
        File.Exists(ManifestPath)
            ? JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(ManifestPath), Json.Options) ?? throw new InvalidDataException($"{ManifestPath} is empty.")
            : throw new FileNotFoundException($"{Path} is not a run folder (no run.json): make it with 'eval run'.", ManifestPath);

    public void WriteManifest(RunManifest manifest) => Json.WriteAtomically(ManifestPath, manifest);

    /// <summary>The latest score of each sample (a rescore with CLIP-I appends a newer line).</summary>
    public IReadOnlyDictionary<string, SampleScore> ReadScores()
    {
        var scores = new Dictionary<string, SampleScore>();
        foreach (var score in Json.ReadLines<SampleScore>(ScoresPath)) scores[score.Id] = score;
        return scores;
    }
}

/// <summary>What <c>eval run</c> records: enough to repeat the run and to tell runs apart.</summary>
public sealed record RunManifest
{
    public required string Data { get; init; }
    public required RunSettings Settings { get; init; }
    public required string Model { get; init; }
    public required string ModelIdentity { get; init; }

    /// <summary><see cref="RunIdentity.OfModel"/>: a rerun with other weight files at the same paths is refused.</summary>
    public string? ModelFingerprint { get; init; }

    /// <summary><see cref="RunIdentity.OfData"/> of <see cref="SampleFingerprints"/>: reports tell runs over other data apart.</summary>
    public string? DataFingerprint { get; init; }

    /// <summary><see cref="RunIdentity.OfSamples"/> of every sample the folder has seen: a prediction whose sample changed since is refused.</summary>
    public Dictionary<string, string>? SampleFingerprints { get; init; }

    public int? DataSamples { get; init; }
    public DateTimeOffset Started { get; init; }
    public DateTimeOffset Updated { get; init; }

    /// <summary>Seconds per finished sample (a resumed run keeps the earlier ones).</summary>
    public Dictionary<string, double> SampleSeconds { get; init; } = [];

    /// <summary>Samples that could not be edited, and why (retried on the next run).</summary>
    public Dictionary<string, string> Failures { get; init; } = [];
}

/// <summary>The settings that make a prediction; a run folder holds predictions of one settings only.</summary>
public sealed record RunSettings
{
    public string Mode { get; init; } = "in-process";
    public string? Preset { get; init; }
    public string? FluxDirectory { get; init; }
    public string? SiglipDirectory { get; init; }
    public string? Adapter { get; init; }
    public string? Lora { get; init; }
    public string? Service { get; init; }
    public string Device { get; init; } = "cpu";
    public string Precision { get; init; } = "bf16";
    public double CacheThreshold { get; init; }
    public int Steps { get; init; }
    public double Guidance { get; init; }
    public double AdapterScale { get; init; }
    public long Seed { get; init; }
    public int MaxSide { get; init; }

    /// <summary>
    /// The edit limits Core defines, checked before anything is read or written: out of range, every sample would fail
    /// alike and the folder would be tied to settings that cannot run.
    /// </summary>
    public void Validate()
    {
        var problems = new List<string>();
        Check(Steps is >= EditSettings.MinSteps and <= EditSettings.MaxSteps, $"--steps must be between {EditSettings.MinSteps} and {EditSettings.MaxSteps} (got {Steps})");
        Check(Guidance is >= EditSettings.MinGuidance and <= EditSettings.MaxGuidance,
            $"--guidance must be between {EditSettings.MinGuidance} and {EditSettings.MaxGuidance} (got {Guidance})");
        Check(AdapterScale is >= EditSettings.MinAdapterScale and <= EditSettings.MaxAdapterScale,
            $"--adapter-scale must be between {EditSettings.MinAdapterScale} and {EditSettings.MaxAdapterScale} (got {AdapterScale})");
        Check(Seed is >= 0 and <= EditSettings.MaxSeed, $"--seed must be between 0 and {EditSettings.MaxSeed} (got {Seed})");
        Check(MaxSide >= EditSettings.MinMaxSide, $"--max-side must be at least {EditSettings.MinMaxSide} (got {MaxSide})");
        Check(CacheThreshold is >= 0 and <= EditSettings.MaxCacheThreshold,
            $"--cache-threshold must be between 0 and {EditSettings.MaxCacheThreshold} (got {CacheThreshold})");
        if (problems.Count > 0) throw new ArgumentException(string.Join("; ", problems) + ".");

        void Check(bool valid, string problem)
        {
            if (!valid) problems.Add(problem);
        }
    }
}

/// <summary>One line of <c>scores.jsonl</c>.</summary>
public sealed record SampleScore(string Id, double? Mse, double? ClipI);

static class Json
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static JsonSerializerOptions Line { get; } = new(Options) { WriteIndented = false };

    /// <summary>Written beside and renamed over: a killed run never leaves half a file.</summary>
    public static void WriteAtomically<T>(string path, T value)
    {
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(value, Options));
        File.Move(temporary, path, overwrite: true);
    }

    public static T? Read<T>(string path) => JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options);

    /// <summary>The complete lines of a JSON Lines file (a torn last line from a killed run is ignored).</summary>
    public static IEnumerable<T> ReadLines<T>(string path)
    {
        if (!File.Exists(path)) yield break;
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            T? value;
            try
            {
                value = JsonSerializer.Deserialize<T>(line, Line);
            }
            catch (JsonException)
            {
                continue;
            }
            if (value is not null) yield return value;
        }
    }

    public static void AppendLine<T>(string path, T value) => File.AppendAllText(path, JsonSerializer.Serialize(value, Line) + "\n");
}
