using RelationAdapter.Core.Data;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Eval.Terminal;
using Spectre.Console;

namespace RelationAdapter.Eval.Runs;

/// <summary>
/// <c>eval score</c>: MSE and (with a CLIP model) CLIP-I of every prediction against its target, appended to
/// <c>scores.jsonl</c>. Resumable: samples already scored (with CLIP-I when it is asked for) are skipped.
/// </summary>
public sealed class ScoreVerb(IAnsiConsole console)
{
    public async Task<int> RunAsync(RunFolder folder, string? clipDirectory, CancellationToken cancellation)
    {
        var manifest = folder.ReadManifest();
        var data = Relation252KJsonl.Read(manifest.Data);
        // Samples changed since their predictions were made would score them against what they never aimed at.
        var changed = RunIdentity.StalePredictions(folder, manifest, RunIdentity.OfSamples(data.Samples));
        if (changed.Count > 0)
        {
            console.MarkupLineInterpolated($"[red]{changed.Count} sample(s) of {manifest.Data} changed since their predictions in {folder.Path} were made ({RunIdentity.Some(changed)})[/]: predict again into another --out, then score that.");
            return 2;
        }
        var scored = folder.ReadScores();
        var todo = data.Samples.Where(s => File.Exists(folder.Prediction(s.Id))
                                           && !(scored.TryGetValue(s.Id, out var score) && (clipDirectory is null || score.ClipI is not null))).ToList();
        var missing = data.Samples.Count(s => !File.Exists(folder.Prediction(s.Id)));
        if (todo.Count == 0)
        {
            console.MarkupLineInterpolated($"all {scored.Count} predictions are scored; {missing} without a prediction.");
            return 0;
        }

        using var similarity = clipDirectory is null ? null : ClipImageSimilarity.Load(clipDirectory);
        var failed = 0;
        await ConsoleProgress.RunAsync(console, "score", todo.Count, progress =>
        {
            foreach (var sample in todo)
            {
                cancellation.ThrowIfCancellationRequested();
                try
                {
                    using var prediction = ImageCodec.Decode(File.ReadAllBytes(folder.Prediction(sample.Id)));
                    using var target = ImageCodec.Decode(File.ReadAllBytes(sample.Target));
                    Json.AppendLine(folder.ScoresPath, new SampleScore(sample.Id, ImageMetrics.Mse(prediction, target), similarity?.Score(prediction, target)));
                }
                catch (Exception e) when (e is IOException or SixLabors.ImageSharp.ImageFormatException or NotSupportedException)
                {
                    failed++;
                    console.MarkupLineInterpolated($"[red]not scored[/] {sample.Id}: {e.Message}");
                }
                progress.Increment(1);
            }
            return Task.CompletedTask;
        });
        console.MarkupLineInterpolated($"{todo.Count - failed} scored{(similarity is null ? " (MSE only: no --clip-dir)" : "")}, {scored.Count} already, {missing} without a prediction.");
        return failed == 0 ? 0 : 1;
    }
}
