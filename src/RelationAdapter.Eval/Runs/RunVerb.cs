using System.Diagnostics;
using RelationAdapter.Core.Data;
using RelationAdapter.Eval.Terminal;
using Spectre.Console;

namespace RelationAdapter.Eval.Runs;

/// <summary>
/// <c>eval run</c>: one prediction per sample into <c>pred/&lt;id&gt;.png</c>. Resumable: samples whose prediction
/// exists are skipped (the models are not even loaded when nothing is left), failed ones are retried.
/// </summary>
public sealed class RunVerb(IAnsiConsole console)
{
    /// <summary>128 + SIGINT, what a shell reports for a program stopped by Ctrl-C.</summary>
    public const int Interrupted = 130;

    public async Task<int> RunAsync(string dataPath, RunFolder folder, RunSettings settings, Func<IPredictor> createPredictor, CancellationToken cancellation)
    {
        settings.Validate();
        if (Directory.Exists(dataPath))
            throw new ArgumentException($"--data {dataPath} is a folder: eval run reads a JSON Lines file ('eval build --raw {dataPath} --out F.jsonl' makes one of raw task folders).");
        var data = Relation252KJsonl.Read(dataPath);
        ConsoleProgress.ReportIssues(console, data.Issues.ToList());
        if (data.Samples.Count == 0)
            throw new InvalidDataException($"{dataPath} has no usable sample ({data.Issues.Count} bad line(s) skipped): nothing to predict.");
        Directory.CreateDirectory(folder.PredictionDirectory);
        var previous = File.Exists(folder.ManifestPath) ? folder.ReadManifest() : null;
        if (previous is not null && previous.Settings != settings)
        {
            console.MarkupLineInterpolated($"[red]{folder.Path} holds a run with other settings[/] ({previous.Settings}); use another --out.");
            return 2;
        }
        var modelFingerprint = RunIdentity.OfModel(settings);
        var samples = RunIdentity.OfSamples(data.Samples);
        if (previous?.ModelFingerprint is { } madeWith && madeWith != modelFingerprint)
        {
            console.MarkupLineInterpolated($"[red]{folder.Path} holds a run of another model: the weight files ({previous.Model}) changed since it was made[/]; its predictions would be stale: use another --out.");
            return 2;
        }
        var changed = previous is null ? [] : RunIdentity.StalePredictions(folder, previous, samples);
        if (changed.Count > 0)
        {
            console.MarkupLineInterpolated($"[red]{folder.Path} holds predictions of {changed.Count} sample(s) that changed since ({RunIdentity.Some(changed)})[/]; their predictions would be stale: use another --out.");
            return 2;
        }
        // Every sample the folder has seen, so samples dropped from the data keep theirs.
        var seen = new Dictionary<string, string>(previous?.SampleFingerprints ?? [], StringComparer.Ordinal);
        foreach (var (id, fingerprint) in samples) seen[id] = fingerprint;

        var todo = data.Samples.Where(s => !File.Exists(folder.Prediction(s.Id))).ToList();
        var already = data.Samples.Count - todo.Count;
        if (todo.Count == 0)
        {
            console.MarkupLineInterpolated($"all {data.Samples.Count} predictions are there; {data.Issues.Count} bad line(s) skipped.");
            return 0;
        }

        using var predictor = createPredictor();
        var now = DateTimeOffset.UtcNow;
        var manifest = new RunManifest
        {
            Data = Path.GetFullPath(dataPath),
            Settings = settings,
            Model = predictor.Model,
            ModelIdentity = predictor.ModelIdentity,
            ModelFingerprint = modelFingerprint,
            DataFingerprint = RunIdentity.OfData(samples),
            SampleFingerprints = seen,
            DataSamples = data.Samples.Count,
            Started = previous?.Started ?? now,
            Updated = now,
            SampleSeconds = previous?.SampleSeconds ?? [],
            Failures = [],
        };
        folder.WriteManifest(manifest);
        var gate = new Lock();
        var failed = 0;
        try
        {
            await Predict();
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            foreach (var torn in Directory.EnumerateFiles(folder.PredictionDirectory, "*.tmp")) File.Delete(torn);
            var kept = data.Samples.Count(s => File.Exists(folder.Prediction(s.Id)));
            var left = data.Samples.Count - kept;
            console.MarkupLineInterpolated(
                $"[yellow]stopped:[/] {kept - already} predicted now, {kept} of {data.Samples.Count} predictions kept in {folder.PredictionDirectory}; run the same 'eval run' command again (same --data, --out and settings) to make the {left} left.");
            return Interrupted;
        }
        console.MarkupLineInterpolated(
            $"{todo.Count - failed} predicted, {already} already there, {failed} failed, {data.Issues.Count} bad line(s) skipped; {folder.Path}");
        return failed == 0 ? 0 : 1;

        Task Predict() => ConsoleProgress.RunAsync(console, "run", todo.Count, async progress =>
        {
            await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = predictor.Parallelism, CancellationToken = cancellation },
                async (sample, token) =>
                {
                    var clock = Stopwatch.StartNew();
                    string? failure = null;
                    try
                    {
                        var png = await predictor.PredictAsync(sample, token);
                        var temporary = folder.Prediction(sample.Id) + ".tmp";
                        await File.WriteAllBytesAsync(temporary, png, token);
                        File.Move(temporary, folder.Prediction(sample.Id), overwrite: true);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        failure = e.Message;
                    }
                    lock (gate)
                    {
                        if (failure is null) manifest.SampleSeconds[sample.Id] = Math.Round(clock.Elapsed.TotalSeconds, 3);
                        else
                        {
                            manifest.Failures[sample.Id] = failure;
                            failed++;
                            console.MarkupLineInterpolated($"[red]failed[/] {sample.Id}: {failure}");
                        }
                        manifest = manifest with { Updated = DateTimeOffset.UtcNow };
                        folder.WriteManifest(manifest);
                        progress.Increment(1);
                    }
                });
        });
    }
}
