using System.Globalization;
using System.Text;
using RelationAdapter.Core.Data;
using RelationAdapter.Eval.Judging;
using RelationAdapter.Eval.Runs;

namespace RelationAdapter.Eval.Reporting;

public enum Metric { Mse, ClipI, GptC, GptA }

/// <summary>One run's measurements of one sample (null: not measured).</summary>
public sealed record ResultRow(string Run, RelationSample Sample, string? Prediction, double? Mse, double? ClipI, double? GptC, double? GptA)
{
    public double? Value(Metric metric) => metric switch
    {
        Metric.Mse => Mse,
        Metric.ClipI => ClipI,
        Metric.GptC => GptC,
        _ => GptA,
    };
}

/// <summary>A mean ± standard deviation over tasks (each task first averaged over its samples).</summary>
public sealed record Summary(double Mean, double Std, int Tasks);

public static class Metrics
{
    public static IReadOnlyList<Metric> All { get; } = [Metric.Mse, Metric.ClipI, Metric.GptC, Metric.GptA];

    public static string Label(Metric metric) => metric switch
    {
        Metric.Mse => "MSE ↓",
        Metric.ClipI => "CLIP-I ↑",
        Metric.GptC => "GPT-C ↑",
        _ => "GPT-A ↑",
    };

    public static string CsvName(Metric metric) => metric switch
    {
        Metric.Mse => "mse",
        Metric.ClipI => "clip_i",
        Metric.GptC => "gpt_c",
        _ => "gpt_a",
    };

    /// <summary>MSE is better low, the others high.</summary>
    public static bool LowerIsBetter(Metric metric) => metric == Metric.Mse;

    /// <summary>
    /// The paper's aggregate: the mean of each task's samples, then the mean and the population standard deviation of
    /// those task means. Null when no sample has the metric.
    /// </summary>
    public static Summary? OverTasks(IEnumerable<ResultRow> rows, Metric metric)
    {
        var taskMeans = rows.Where(r => r.Value(metric) is not null)
            .GroupBy(r => r.Sample.Task ?? "")
            .Select(g => g.Average(r => r.Value(metric)!.Value))
            .ToList();
        if (taskMeans.Count == 0) return null;
        var mean = taskMeans.Average();
        return new Summary(mean, Math.Sqrt(taskMeans.Average(m => (m - mean) * (m - mean))), taskMeans.Count);
    }

    public static string Format(double value) => value.ToString("F4", CultureInfo.InvariantCulture);

    public static string Format(Summary? summary) => summary is null ? "" : $"{Format(summary.Mean)} ± {Format(summary.Std)}";
}

/// <summary>The measurements of every run, read from run folders (scores.jsonl) and judgement folders (judgments.jsonl).</summary>
public sealed class Results
{
    public required IReadOnlyList<string> Runs { get; init; }
    public required IReadOnlyList<ResultRow> Rows { get; init; }

    /// <summary>Why runs side by side may not compare like with like (other data, other scored samples); empty when they do.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public IEnumerable<ResultRow> Of(string run) => Rows.Where(r => r.Run == run);

    /// <summary>A row with at least one measurement: what the summaries average over.</summary>
    public static bool IsScored(ResultRow row) => Metrics.All.Any(m => row.Value(m) is not null);

    public static Results Load(IReadOnlyList<RunFolder> runs, IReadOnlyList<string> judgeDirectories)
    {
        var judgements = judgeDirectories.SelectMany(d => JudgeVerb.ReadJudgements(d).Values)
            .SelectMany(j => j.Runs.Select(r => (Run: r.Key, j.Id, Scores: r.Value)))
            .GroupBy(x => (x.Run, x.Id))
            .ToDictionary(g => g.Key, g => g.Last().Scores);
        var rows = new List<ResultRow>();
        var manifests = runs.Select(r => r.ReadManifest()).ToList();
        foreach (var (run, manifest) in runs.Zip(manifests))
        {
            var data = Relation252KJsonl.Read(manifest.Data);
            var scores = run.ReadScores();
            foreach (var sample in data.Samples)
            {
                scores.TryGetValue(sample.Id, out var score);
                judgements.TryGetValue((run.Name, sample.Id), out var judged);
                var prediction = run.Prediction(sample.Id);
                rows.Add(new ResultRow(run.Name, sample, File.Exists(prediction) ? prediction : null, score?.Mse, score?.ClipI, judged?.GptC, judged?.GptA));
            }
        }
        return new Results { Runs = runs.Select(r => r.Name).ToList(), Rows = rows, Warnings = Comparability(runs, manifests, rows) };
    }

    /// <summary>Each later run against the first, the reference of every Δ.</summary>
    static List<string> Comparability(IReadOnlyList<RunFolder> runs, IReadOnlyList<RunManifest> manifests, List<ResultRow> rows)
    {
        var warnings = new List<string>();
        var (reference, referenceManifest) = (runs[0].Name, manifests[0]);
        var referenceScored = ScoredIds(reference);
        foreach (var (run, manifest) in runs.Zip(manifests).Skip(1))
        {
            var sameData = referenceManifest.DataFingerprint is { } fingerprint && manifest.DataFingerprint is { } other
                ? fingerprint == other
                : referenceManifest.Data == manifest.Data;
            if (!sameData)
            {
                warnings.Add($"'{run.Name}' was made over other data ({manifest.Data}) than '{reference}' ({referenceManifest.Data}): " +
                             "its Δ compares different samples.");
                continue;
            }
            var scored = ScoredIds(run.Name);
            if (!scored.SetEquals(referenceScored))
                warnings.Add($"'{run.Name}' and '{reference}' have different scored samples ({scored.Except(referenceScored).Count()} only in '{run.Name}', " +
                             $"{referenceScored.Except(scored).Count()} only in '{reference}'): its Δ compares different sample sets.");
        }
        return warnings;

        HashSet<string> ScoredIds(string run) => rows.Where(r => r.Run == run && IsScored(r)).Select(r => r.Sample.Id).ToHashSet(StringComparer.Ordinal);
    }

    public const string CsvHeader = "run,id,task,category,split,mse,clip_i,gpt_c,gpt_a";

    public string ToCsv()
    {
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var row in Rows)
        {
            string[] fields = [row.Run, row.Sample.Id, row.Sample.Task ?? "", row.Sample.Category ?? "", row.Sample.Split ?? "",
                .. Metrics.All.Select(m => row.Value(m)?.ToString("R", CultureInfo.InvariantCulture) ?? "")];
            csv.AppendJoin(',', fields.Select(Quote)).Append('\n');
        }
        return csv.ToString();

        static string Quote(string field) =>
            field.IndexOfAny([',', '"', '\n', '\r']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
    }
}
