using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using RelationAdapter.Core.Data;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Eval.Reporting;
using RelationAdapter.Eval.Runs;
using RelationAdapter.Eval.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Eval.Tests;

/// <summary>The verbs through the tool's command line on the tiny preset, over fixtures in both layouts with bad lines.</summary>
[Trait("Category", "Eval")]
public sealed class EndToEndTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ra-eval-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    string P(params string[] parts) => Path.Combine([_root, .. parts]);

    static string[] Tiny(string data, string output, params string[] more) =>
        ["run", "--data", data, "--out", output, "--preset", "tiny", "--device", "cpu", "--steps", "2", .. more];

    static Image<Rgb24> Load(string path) => ImageCodec.Decode(File.ReadAllBytes(path));

    /// <summary>The MSE written out: resize (when needed) with ImageSharp's bicubic, then a plain loop in double.</summary>
    static double IndependentMse(string predictionPath, string targetPath)
    {
        using var prediction = Load(predictionPath);
        using var target = Load(targetPath);
        if (prediction.Size() != target.Size()) prediction.Mutate(x => x.Resize(target.Width, target.Height, KnownResamplers.Bicubic));
        double sum = 0;
        for (var y = 0; y < target.Height; y++)
        for (var x = 0; x < target.Width; x++)
        {
            var (p, t) = (prediction[x, y], target[x, y]);
            sum += Square(p.R - t.R) + Square(p.G - t.G) + Square(p.B - t.B);
        }
        return sum / (target.Width * target.Height * 3.0);

        static double Square(int difference) => difference / 255.0 * (difference / 255.0);
    }

    [Fact]
    public async Task Json_lines_with_bad_lines_run_resume_and_score_with_an_independent_mse()
    {
        var data = Fixture.WriteJsonl(_root);
        var run = P("runs", "bf16");

        var first = await Cli.SucceedAsync(Tiny(data, run));
        Assert.Contains("3 predicted, 0 already there, 0 failed, 4 bad line(s) skipped", first);
        foreach (var expected in new[] { "set.jsonl:2: bad JSON", "set.jsonl:4: 'source' file not found", "set.jsonl:5: 'source' not a decodable image", "set.jsonl:6: duplicate id 's1'" })
            Assert.Contains(expected, first.ReplaceLineEndings(" "));
        var predictions = new[] { "s1", "s2", "s3" }.Select(id => Path.Combine(run, "pred", id + ".png")).ToList();
        Assert.All(predictions, p => Assert.True(File.Exists(p), p));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "run.json")))!;
        Assert.Equal(2, manifest["settings"]!["steps"]!.GetValue<int>());
        Assert.Equal(1000, manifest["settings"]!["seed"]!.GetValue<long>());
        Assert.Contains("tiny random preset", manifest["model"]!.GetValue<string>());
        Assert.Equal(3, manifest["sampleSeconds"]!.AsObject().Count);

        // Resumable: nothing is redone; a lost prediction is made again, the same as before (same seed).
        var written = predictions.Select(File.GetLastWriteTimeUtc).ToList();
        Assert.Contains("all 3 predictions are there", await Cli.SucceedAsync(Tiny(data, run)));
        Assert.Equal(written, predictions.Select(File.GetLastWriteTimeUtc));
        var lost = File.ReadAllBytes(predictions[1]);
        File.Delete(predictions[1]);
        Assert.Contains("1 predicted, 2 already there", await Cli.SucceedAsync(Tiny(data, run)));
        Assert.Equal(lost, File.ReadAllBytes(predictions[1]));
        var (exit, refused) = await Cli.RunAsync(Tiny(data, run, "--seed", "7"));
        Assert.Equal(2, exit);
        Assert.Contains("other settings", refused);

        var clip = TinyClip.Write(P("clip"));
        Assert.Contains("3 scored", await Cli.SucceedAsync("score", run, "--clip-dir", clip));
        var scores = File.ReadAllLines(Path.Combine(run, "scores.jsonl")).Select(l => JsonNode.Parse(l)!).ToDictionary(n => n["id"]!.GetValue<string>());
        var set = Relation252KJsonl.Read(data);
        foreach (var sample in set.Samples)
        {
            var expected = IndependentMse(Path.Combine(run, "pred", sample.Id + ".png"), sample.Target);
            Assert.Equal(expected, scores[sample.Id]["mse"]!.GetValue<double>(), 1e-9);
            Assert.InRange(scores[sample.Id]["clipI"]!.GetValue<double>(), -1.0, 1.0);
        }
        using (var target = Load(set.Samples.Single(s => s.Id == "s3").Target))
        using (var prediction = Load(predictions[2]))
            Assert.NotEqual(target.Size(), prediction.Size()); // the resized case is among them
        Assert.Contains("all 3 predictions are scored", await Cli.SucceedAsync("score", run, "--clip-dir", clip));
    }

    /// <summary>A folder holds the predictions of one data set: other records or other image content at the same ids are refused.</summary>
    [Fact]
    public async Task A_rerun_over_other_data_is_refused_and_the_same_data_elsewhere_resumes()
    {
        var data = Fixture.WriteJsonl(_root);
        var run = P("runs", "first");
        await Cli.SucceedAsync(Tiny(data, run));
        var manifest = File.ReadAllText(Path.Combine(run, "run.json"));
        var samples = Relation252KJsonl.Read(data).Samples;

        // The same ids over other images, and one more sample.
        var other = P("jsonl", "other.jsonl");
        Relation252KJsonl.Write(other, [.. samples.Select(s => s with { Source = s.Target, Target = s.Source }), samples[0] with { Id = "s4" }]);
        var (exit, refused) = await Cli.RunAsync(Tiny(other, run));
        Assert.Equal(2, exit);
        Assert.Contains("holds predictions of 3 sample(s) that changed since", refused);
        Assert.Contains("use another --out", refused);
        Assert.False(File.Exists(Path.Combine(run, "pred", "s4.png")));
        Assert.Equal(manifest, File.ReadAllText(Path.Combine(run, "run.json")));

        // The same records and images under another name, in another order, resume; a sample added is predicted alone.
        var copy = P("jsonl", "copy.jsonl");
        Relation252KJsonl.Write(copy, [samples[2], samples[0], samples[1], samples[0] with { Id = "s4" }]);
        Assert.Contains("1 predicted, 3 already there", await Cli.SucceedAsync(Tiny(copy, run)));

        // An image rewritten in place changes its sample though every record stays the same.
        using (var changed = Fixture.Picture(80, 60, 999)) Fixture.SavePng(changed, samples[2].Target); // s3's alone
        (exit, refused) = await Cli.RunAsync(Tiny(copy, run));
        Assert.Equal(2, exit);
        Assert.Contains($"1 sample(s) that changed since ({samples[2].Id})", refused);
        // Nor is its prediction scored against the changed sample.
        (exit, refused) = await Cli.RunAsync("score", run);
        Assert.Equal(2, exit);
        Assert.Contains($"1 sample(s) of {Path.GetFullPath(copy)} changed since their predictions", refused);
        Assert.False(File.Exists(Path.Combine(run, "scores.jsonl")));
    }

    /// <summary>A judgement folder belongs to its two runs and its judge model; predictions made for other inputs are not judged.</summary>
    [Fact]
    public async Task Judging_refuses_stale_predictions_and_a_judgement_folder_of_other_runs_or_another_judge()
    {
        var data = Fixture.WriteJsonl(_root);
        await Cli.SucceedAsync(Tiny(data, P("runs", "a")));
        await Cli.SucceedAsync(Tiny(data, P("runs", "b"), "--seed", "7"));
        await using var server = await StandInJudge.StartAsync((_, context) => StandInJudge.AnswerAsync(context, StandInJudge.Scores(5, 4, 3, 2)));
        Environment.SetEnvironmentVariable("OPENAI_API_KEY", "test-key");
        string[] Judge(string first, string second, string output, string model = "stand-in") =>
            ["judge", P("runs", first), P("runs", second), "--out", P(output), "--judge-url", server.Endpoint.ToString(), "--judge-model", model, "--retry-delay", "0.05"];

        Assert.Contains("3 judged", await Cli.SucceedAsync(Judge("a", "b", "j")));
        var judged = File.ReadAllText(P("j", "judgments.jsonl"));
        var asked = server.Requests.Count;

        // Resuming into the same folder needs the same two runs, in the same order, and the same judge model.
        var (exit, refused) = await Cli.RunAsync(Judge("b", "a", "j"));
        Assert.Equal(2, exit);
        Assert.Contains($"{P("j")} holds judgements of other runs or by another judge model (a vs b by stand-in): judge into another --out", refused);
        (exit, refused) = await Cli.RunAsync(Judge("a", "b", "j", model: "another-model"));
        Assert.Equal(2, exit);
        Assert.Contains("holds judgements of other runs", refused);
        // A run folder made again in the same place holds other predictions.
        Directory.Delete(P("runs", "b"), recursive: true);
        await Cli.SucceedAsync(Tiny(data, P("runs", "b"), "--seed", "8"));
        (exit, refused) = await Cli.RunAsync(Judge("a", "b", "j"));
        Assert.Equal(2, exit);
        Assert.Contains("holds judgements of other runs", refused);
        Assert.Equal(judged, File.ReadAllText(P("j", "judgments.jsonl")));
        Assert.Equal(asked, server.Requests.Count);

        // A sample changed since both runs predicted it: neither run's picture of it is judged, in any folder.
        var changedSample = Relation252KJsonl.Read(data).Samples[2]; // s3, whose source no other sample shows
        using (var changed = Fixture.Picture(80, 60, 999)) Fixture.SavePng(changed, changedSample.Source);
        (exit, refused) = await Cli.RunAsync(Judge("a", "b", "fresh"));
        Assert.Equal(2, exit);
        Assert.Contains($"{P("runs", "a")} holds predictions of 1 sample(s) that {data} now holds otherwise ({changedSample.Id})", refused);
        Assert.False(Directory.Exists(P("fresh")));
        Assert.Equal(asked, server.Requests.Count);
    }

    /// <summary>Input that cannot make a run is refused up front with a message, before the folder is tied to it.</summary>
    [Fact]
    public async Task A_folder_as_data_an_empty_data_file_and_settings_out_of_range_are_refused_before_the_folder_is_made()
    {
        var data = Fixture.WriteJsonl(_root);
        var run = P("runs", "refused");
        async Task<string> RefusedAsync(params string[] args)
        {
            var (exit, output) = await Cli.RunAsync(args);
            Assert.True(exit == 2, $"exited {exit}:\n{output}");
            Assert.False(File.Exists(Path.Combine(run, "run.json")), output);
            return output;
        }

        var folder = await RefusedAsync(Tiny(Path.GetDirectoryName(data)!, run));
        Assert.Contains("is a folder", folder);
        Assert.Contains("eval build --raw", folder);
        Assert.DoesNotContain("   at ", folder);

        var empty = P("empty.jsonl");
        File.WriteAllText(empty, "");
        Assert.Contains("has no usable sample", await RefusedAsync(Tiny(empty, run)));

        var ranges = await RefusedAsync("run", "--data", data, "--out", run, "--preset", "tiny", "--device", "cpu",
            "--steps", "0", "--max-side", "0", "--guidance", "-1", "--cache-threshold", "NaN");
        foreach (var expected in new[] { "--steps must be between 1 and 1000 (got 0)", "--max-side must be at least 16 (got 0)", "--guidance must be between", "--cache-threshold must be between" })
            Assert.Contains(expected, ranges);
        Assert.False(Directory.Exists(Path.Combine(run, "pred")));

        // The same folder still takes a run with valid settings afterwards.
        Assert.Contains("3 predicted", await Cli.SucceedAsync(Tiny(data, run)));
    }

    /// <summary>The report counts the samples each summary averages over and warns when a Δ compares different samples.</summary>
    [Fact]
    public async Task Report_counts_scored_samples_and_warns_when_runs_cover_different_samples()
    {
        var data = Fixture.WriteJsonl(_root);
        var subset = P("jsonl", "subset.jsonl");
        Relation252KJsonl.Write(subset, Relation252KJsonl.Read(data).Samples.Take(2));
        await Cli.SucceedAsync(Tiny(data, P("runs", "all")));
        await Cli.SucceedAsync(Tiny(subset, P("runs", "subset")));
        await Cli.SucceedAsync(Tiny(data, P("runs", "partial")));
        File.Delete(P("runs", "partial", "pred", "s3.png")); // s3 (the only t-unseen sample) cannot be scored
        foreach (var run in new[] { "all", "subset", "partial" }) await Cli.SucceedAsync("score", P("runs", run));

        // Alone, a run is compared with nothing.
        await Cli.SucceedAsync("report", P("runs", "all"), "--out", P("alone"));
        Assert.DoesNotContain("Warning", File.ReadAllText(P("alone", "report.md")));

        var printed = await Cli.SucceedAsync("report", P("runs", "all"), P("runs", "subset"), P("runs", "partial"), "--out", P("report"));
        var markdown = File.ReadAllText(P("report", "report.md"));
        Assert.Contains("| group | run | tasks | scored samples |", markdown);
        Assert.Contains("| all | all | 2 | 3 |", markdown);
        Assert.Contains("| all | partial | 1 | 2 |", markdown);
        var warnings = markdown.Split('\n').Where(l => l.StartsWith("> **Warning:**", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains("'subset' was made over other data", warnings[0]);
        Assert.Contains("subset.jsonl", warnings[0]);
        Assert.Contains("'partial' and 'all' have different scored samples (0 only in 'partial', 1 only in 'all')", warnings[1]);
        Assert.Contains("warning: 'subset' was made over other data", printed);
        Assert.Contains("<strong>Warning:</strong> ", File.ReadAllText(P("report", "report.html")));
        Assert.Contains("have different scored samples", File.ReadAllText(P("report", "report.html")));
    }

    /// <summary>Ctrl-C (SIGINT to the tool's own process) stops the run, keeps what was predicted and says how to resume.</summary>
    [Fact]
    public async Task Ctrl_c_mid_run_keeps_the_predictions_made_and_says_how_to_resume()
    {
        var sample = Relation252KJsonl.Read(Fixture.WriteJsonl(_root)).Samples[0];
        var data = P("jsonl", "many.jsonl");
        const int count = 20;
        Relation252KJsonl.Write(data, Enumerable.Range(0, count).Select(i => sample with { Id = $"c{i}" }));
        var run = P("runs", "stopped");
        var predictions = Path.Combine(run, "pred");
        // Steps enough that the second sample takes seconds, far longer than the signal needs to arrive.
        string[] arguments = ["run", "--data", data, "--out", run, "--preset", "tiny", "--device", "cpu", "--steps", "200"];
        // A shell starts the tool (the apphost: the signal must reach the process that predicts), waits for the first
        // prediction and sends SIGINT, as Ctrl-C in a terminal does; the shell's exit code is the tool's. A program the
        // shell starts in the background inherits SIGINT ignored: env gives it back the default a foreground program has.
        var script = "env --default-signal=INT \"$0\" \"$@\" & pid=$!; " +
                     $"while [ -z \"$(ls '{predictions}' 2>/dev/null | grep '\\.png$')\" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; " +
                     "kill -INT $pid; wait $pid";
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var argument in (string[])["-c", script, Path.Combine(AppContext.BaseDirectory, "RelationAdapter.Eval"), .. arguments])
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5))) await process.WaitForExitAsync(timeout.Token);
        var printed = await output + await error;

        Assert.True(process.ExitCode == RunVerb.Interrupted, $"exit code {process.ExitCode}: {printed}");
        var kept = Directory.GetFiles(predictions, "*.png").Length;
        Assert.InRange(kept, 1, count - 1);
        Assert.Contains($"stopped: {kept} predicted now, {kept} of {count} predictions kept in {predictions}", printed);
        Assert.Contains($"run the same 'eval run' command again (same --data, --out and settings) to make the {count - kept} left", printed);
        Assert.DoesNotContain("   at ", printed);
        Assert.Empty(Directory.GetFiles(predictions, "*.tmp"));
    }

    [Fact]
    public async Task Raw_layout_builds_runs_twice_scores_judges_and_reports_numbers_that_match_results_csv()
    {
        var raw = Fixture.WriteRaw(_root);
        var built = await Cli.SucceedAsync("build", "--raw", raw, "--out", P("data", "f.jsonl"), "--test-per-task", "1", "--categories", P("categories.json"));
        Assert.Contains("2 task(s), 6 pair(s): 4 sample(s)", built);
        Assert.Contains("2 in", built);
        Assert.Contains("6 bad entr(ies) skipped", built);
        Assert.Contains("odd width 65", built);
        var test = P("data", "f.test.jsonl");
        Assert.Equal(["Low-level", "Style transfer"], Relation252KJsonl.Read(test).Samples.Select(s => s.Category));

        await Cli.SucceedAsync(Tiny(test, P("runs", "base")));
        await Cli.SucceedAsync(Tiny(test, P("runs", "cached"), "--cache-threshold", "0.5"));
        await Cli.SucceedAsync("score", P("runs", "base"));
        await Cli.SucceedAsync("score", P("runs", "cached"));

        // The stand-in prefers whichever picture is B1 (a position bias); the swap averages it away.
        await using var server = await StandInJudge.StartAsync((request, context) =>
            StandInJudge.AnswerAsync(context, StandInJudge.Scores(5, 4, 3, 2)));
        Environment.SetEnvironmentVariable("OPENAI_API_KEY", "test-key");
        var judged = await Cli.SucceedAsync("judge", P("runs", "base"), P("runs", "cached"), "--out", P("judge"), "--judge-url", server.Endpoint.ToString(),
            "--judge-model", "stand-in", "--retry-delay", "0.05");
        Assert.Contains("2 judged", judged);
        Assert.Contains("judge usage: 4 request(s), 4000 input + 120 output tokens", judged);
        Assert.Equal(4, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal(Judging.JudgePrompt.Text, r.Prompt));
        var judgements = File.ReadAllLines(P("judge", "judgments.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(2, judgements.Count);
        Assert.All(judgements, j =>
        {
            Assert.Equal(4.0, j["runs"]!["base"]!["gptC"]!.GetValue<double>());
            Assert.Equal(3.0, j["runs"]!["cached"]!["gptA"]!.GetValue<double>());
            Assert.Equal(2, j["answers"]!.AsArray().Count(a => a is not null));
        });
        Assert.Contains("0 judged, 2 already", await Cli.SucceedAsync("judge", P("runs", "base"), P("runs", "cached"), "--out", P("judge"),
            "--judge-url", server.Endpoint.ToString(), "--judge-model", "stand-in"));
        Assert.Equal(4, server.Requests.Count);

        await Cli.SucceedAsync("report", P("runs", "base"), P("runs", "cached"), "--judge", P("judge"), "--out", P("report"));
        var csv = File.ReadAllLines(P("report", "results.csv"));
        Assert.Equal(Results.CsvHeader, csv[0]);
        Assert.Equal(4, csv.Length - 1);
        var rows = csv.Skip(1).Select(l => l.Split(',')).ToList();
        var markdown = File.ReadAllText(P("report", "report.md"));
        foreach (var run in new[] { "base", "cached" })
        {
            var ofRun = rows.Where(r => r[0] == run).ToList();
            Assert.All(ofRun, r => Assert.NotEqual("", r[5]));
            Assert.All(ofRun, r => Assert.Equal("", r[6])); // no CLIP model given: CLIP-I not measured
            // Overall: each task has one sample here, so mean ± std over tasks is over these rows.
            foreach (var (column, _) in new[] { (5, "mse"), (7, "gpt_c"), (8, "gpt_a") })
            {
                var values = ofRun.Select(r => double.Parse(r[column], CultureInfo.InvariantCulture)).ToList();
                var mean = values.Average();
                var std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
                var cell = $"{mean.ToString("F4", CultureInfo.InvariantCulture)} ± {std.ToString("F4", CultureInfo.InvariantCulture)}";
                Assert.Contains($"| all | {run} | 2 | 2 |", markdown);
                Assert.Contains(cell, markdown.Split('\n').Single(l => l.StartsWith($"| all | {run} |", StringComparison.Ordinal)));
            }
            // By category: one task each, so the cell is that sample's MSE with std 0.
            foreach (var row in ofRun)
            {
                var line = markdown.Split('\n').Single(l => l.StartsWith($"| {row[3]} | {run} |", StringComparison.Ordinal));
                Assert.Contains($"{double.Parse(row[5], CultureInfo.InvariantCulture).ToString("F4", CultureInfo.InvariantCulture)} ± 0.0000", line);
            }
        }
        Assert.Contains("| Low-level | paper | 32 |  | 0.028 ± 0.038 | 0.885 ± 0.067 | 3.943 ± 0.383 | 3.822 ± 0.406 |", markdown);
        Assert.Contains("(Δ ", markdown);
        var html = File.ReadAllText(P("report", "report.html"));
        Assert.Equal(2, html.Split("<tr data-id=").Length - 1);
        Assert.DoesNotContain("src=\"file:", html);
    }
}
