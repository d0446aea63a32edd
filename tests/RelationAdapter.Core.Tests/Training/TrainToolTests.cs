using System.Diagnostics;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Training;
using RelationAdapter.TestKit;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Core.Tests.Training;

/// <summary>The training tool as users run it: a real process, real files, real signals.</summary>
[Trait("Category", "Training")]
public class TrainToolTests
{
    // The apphost, not "dotnet RelationAdapter.Train.dll": the signal must reach the process that trains.
    static readonly string Tool = Path.Combine(AppContext.BaseDirectory, "RelationAdapter.Train");

    static string WriteData(TempFolder temp, int samples = 2)
    {
        var lines = Enumerable.Range(0, samples).Select(i =>
        {
            using var sample = TrainingData.Sample($"s{i}", i + 1);
            return TrainingData.WriteRecord(temp.Path, sample);
        });
        var path = temp.File("train.jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    static Process Start(string file, string[] arguments)
    {
        // A closed stdin of its own: the tool reads none, and shares no terminal with the test host.
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        return process;
    }

    static Task<(int Code, string Output, string Error)> RunAsync(params string[] arguments) => WaitAsync(Start(Tool, arguments));

    static Task<(int Code, string Output, string Error)> RunShellAsync(string script, string[] arguments) =>
        WaitAsync(Start("/bin/sh", ["-c", script, .. arguments]));

    static async Task<(int Code, string Output, string Error)> WaitAsync(Process started)
    {
        using var process = started;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>
    /// The issue's check that training means what inference means, on the tiny preset: the loss falls, and the
    /// pipeline run with the checkpoint lands much closer to the targets' latents than the untrained model (at most
    /// half the distance; here about 0.4). The preset starts in context (<see cref="InContextStart"/>), as the paper's
    /// training starts from a pretrained in-context editor: a random DiT could not get there (0.7 at best, below which
    /// a 32-wide one could not go at all), while from an untrained edit that lands near its source the adapter and the
    /// LoRA learn the edit itself.
    /// </summary>
    [Fact]
    public async Task Training_on_the_tiny_preset_learns_the_edits_and_the_served_checkpoint_edits_as_validation_did()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp);
        var output = temp.File("run");
        var (code, stdout, stderr) = await RunAsync("--data", data, "--out", output, "--steps", "200", "--rank", "4", "--lr", "1e-3",
            "--validate-data", data, "--save-every", "0", "--validate-every", "0", "--threads", "1");
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");

        var losses = File.ReadLines(Path.Combine(output, Trainer.LossFile)).Skip(1)
            .Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(200, losses.Length);
        var fifth = losses.Length / 5;
        Assert.True(losses[^fifth..].Average() < 0.8 * losses[..fifth].Average(),
            $"mean loss of the last fifth {losses[^fifth..].Average():F4} vs the first {losses[..fifth].Average():F4}");

        var scores = TrainingValidation.Read(output);
        Assert.Equal(["s0", "s1"], scores.Where(s => s.Step == 0).Select(s => s.Id));
        var final = scores.Where(s => s.Step == 200).ToList();
        Assert.Equal(["s0", "s1"], final.Select(s => s.Id));
        Assert.All(final, s => Assert.True(s.LatentRelativeL2 <= 0.5 * s.LatentRelativeL2Untrained!.Value,
            $"{s.Id}: latent relative L2 {s.LatentRelativeL2:F4}, untrained {s.LatentRelativeL2Untrained:F4}"));

        // The checkpoint over the tiny preset, composed as the service composes Model:Preset=tiny with
        // Model:AdapterPath and Model:LoraPath, edits exactly as the tool's validation did.
        var checkpoint = Path.Combine(output, TrainingCheckpoints.FinalName);
        using var served = ModelFactory.CreateTiny(RuntimeOptions.Cpu, 1234,
            Path.Combine(checkpoint, TrainingCheckpoints.AdapterFile), Path.Combine(checkpoint, TrainingCheckpoints.LoraFile));
        using var sample = TrainingData.Sample("s0", 1);
        var settings = new TrainingSettings();
        using var result = served.Pipeline.Run(new EditRequest
        {
            Source = sample.Source, PromptImage = sample.PromptImage, ReferenceImage = sample.ReferenceImage,
            Settings = new EditSettings { Prompt = sample.Text, Steps = settings.ValidationSteps, Seed = settings.ValidationSeed, Guidance = settings.Guidance },
        }).Image;
        using var validation = ImageCodec.Decode(File.ReadAllBytes(Path.Combine(output, final[0].ImagePath)));
        using var servedPixels = ImageTensors.ToHwcBytes(result);
        using var validationPixels = ImageTensors.ToHwcBytes(validation);
        Assert.True(servedPixels.Same(validationPixels), "the served edit differs from the validation image");
    }

    [Fact]
    public async Task SIGTERM_mid_run_saves_a_loadable_checkpoint_and_resume_finishes_the_run()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp);
        var output = temp.File("run");
        string[] common = ["--data", data, "--out", output, "--steps", "1000", "--rank", "4", "--lr", "1e-3", "--validate-steps", "2", "--save-every", "0", "--threads", "1"];
        // A shell starts the tool, waits for its third step and sends SIGTERM, as Kubernetes stops a pod; the
        // shell's exit code is the tool's.
        var loss = Path.Combine(output, Trainer.LossFile);
        var script = $"\"$0\" \"$@\" & pid=$!; " +
                     $"while [ \"$(cat '{loss}' 2>/dev/null | wc -l)\" -le 3 ] && kill -0 $pid 2>/dev/null; do sleep 0.2; done; " +
                     "kill -TERM $pid; wait $pid";
        var (stopped, stoppedOutput, stoppedError) = await RunShellAsync(script, [Tool, .. common]);
        Assert.True(stopped == 3, $"exit code {stopped}: {stoppedOutput}\n{stoppedError}");
        Assert.Contains("--resume", stoppedOutput);

        var checkpoint = TrainingCheckpoints.Latest(output);
        Assert.NotNull(checkpoint);
        var step = TrainingCheckpoints.StepOf(checkpoint);
        Assert.InRange(step, 3, 999);
        Assert.Equal(step, File.ReadAllLines(Path.Combine(output, Trainer.LossFile)).Length - 1);
        Assert.Empty(Directory.GetDirectories(output, ".*"));
        using (ModelFactory.CreateTiny(RuntimeOptions.Cpu, 1234, Path.Combine(checkpoint, TrainingCheckpoints.AdapterFile),
                   Path.Combine(checkpoint, TrainingCheckpoints.LoraFile))) { }

        common[5] = (step + 2).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (code, stdoutResumed, stderrResumed) = await RunAsync([.. common, "--resume"]);
        Assert.True(code == 0, $"exit code {code}: {stdoutResumed}\n{stderrResumed}");
        Assert.Contains($"step {step}", stdoutResumed);
        Assert.Equal(step + 2, TrainingCheckpoints.StepOf(Path.Combine(output, TrainingCheckpoints.FinalName)));
        Assert.Equal(step + 2, File.ReadAllLines(Path.Combine(output, Trainer.LossFile)).Length - 1);
        Assert.True(new FileInfo(Path.Combine(output, "loss.png")).Length > 1000, "loss.png is drawn");
        Assert.True(File.Exists(Path.Combine(output, TrainingCheckpoints.FinalName, TrainingCheckpoints.InfoFile)));
    }

    [Fact]
    public async Task Bad_lines_and_bad_options_stop_the_tool_with_their_names()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp, samples: 1);
        File.AppendAllLines(data, ["{\"cond1\": \"missing.png\", \"cond2\": \"x\", \"source\": \"y\", \"target\": \"z\", \"text\": \"t\"}", "not json"]);

        var (code, _, error) = await RunAsync("--data", data, "--out", temp.File("run"), "--steps", "2", "--rank", "4");
        Assert.Equal(2, code);
        Assert.Contains($"{data}:2:", error);
        Assert.Contains("missing.png", error);
        Assert.Contains($"{data}:3:", error);
        Assert.False(Directory.Exists(temp.File("run")), "nothing is written for bad data");

        (code, _, error) = await RunAsync("--data", data, "--out", temp.File("run"), "--steps", "0", "--schedule", "sometimes");
        Assert.Equal(2, code);
        Assert.Contains("--schedule 'sometimes'", error);

        (code, _, error) = await RunAsync("--data", data, "--out", temp.File("run"), "--steps", "0");
        Assert.Equal(2, code);
        Assert.Contains("--steps must be at least 1", error);

        (code, _, error) = await RunAsync("--data", data, "--out", temp.File("run"), "--steps", "3", "--colour", "red");
        Assert.Equal(2, code);
        Assert.Contains("--colour", error);

        // Mistakes a parser could take for something else, and failures past parsing: each one line, no stack trace.
        data = WriteData(temp, samples: 1);
        foreach (var (arguments, expected) in new (string[], string)[]
        {
            (["--lr", "1,5"], "--lr '1,5' is not a number"),
            (["--steps", "4"], "--steps is given twice"),
            (["--threads", "100000"], "--threads must be between 0 and"),
            (["--guidance", "1e308"], "--guidance must be between"),
            (["--device", "foo"], "unknown device 'foo'"),
            (["--out", data], "is a file, not a folder"),
            (["--validate-fraction", "0.5", "--validate-data", data], "give one"),
            (["--validate-fraction", "NaN"], "--validate-fraction must be in [0, 1)"),
            (["--flux-dir", temp.Path], "are for --preset flux1-dev"),
        })
        {
            (code, _, error) = await RunAsync(["--data", data, "--steps", "3", "--rank", "4", .. arguments,
                .. arguments.Contains("--out") ? Array.Empty<string>() : ["--out", temp.File("run")]]);
            Assert.True(code == 2, $"{string.Join(' ', arguments)}: exit code {code}: {error}");
            Assert.Contains(expected, error);
            Assert.DoesNotContain("   at ", error);
        }
    }

    [Fact]
    public async Task A_diverging_run_stops_with_the_step_and_leaves_no_checkpoint_of_it()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp, samples: 1);
        var output = temp.File("run");
        var (code, _, error) = await RunAsync("--data", data, "--out", output, "--steps", "20", "--rank", "4", "--lr", "1e30",
            "--validate-steps", "2", "--validate-every", "0", "--save-every", "0", "--threads", "1");
        Assert.True(code == 2, $"exit code {code}: {error}");
        Assert.Matches("the loss is NaN at step [0-9]+: training diverged", error);
        Assert.Null(TrainingCheckpoints.Latest(output));
    }

    /// <summary>
    /// A resume continues one run: a fresh run does not take over a used folder, a resume that changes what is trained
    /// is refused by name (the optimiser's settings may change: a lower rate after a divergence), and a checkpoint can
    /// start another folder (which never measured step 0).
    /// </summary>
    [Fact]
    public async Task Resuming_refuses_other_settings_and_another_base_and_a_checkpoint_can_continue_in_another_folder()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp, samples: 1);
        var first = temp.File("first");
        string[] common = ["--data", data, "--rank", "4", "--validate-steps", "2", "--validate-every", "0", "--save-every", "0", "--threads", "1"];
        var (code, _, error) = await RunAsync([.. common, "--out", first, "--steps", "3", "--lr", "1e-3"]);
        Assert.True(code == 0, error);

        (code, _, error) = await RunAsync([.. common, "--out", first, "--steps", "6", "--lr", "1e-3", "--seed", "5"]);
        Assert.Equal(2, code);
        Assert.Contains("already holds a run", error);
        (code, var refusedOutput, error) = await RunAsync([.. common, "--out", first, "--steps", "6", "--lr", "1e-3", "--guidance", "2", "--resume"]);
        Assert.Equal(2, code);
        Assert.Contains("Guidance: 3.5 → 2", error);
        Assert.DoesNotContain("model:", refusedOutput); // refused before the model is loaded and the data encoded
        (code, _, error) = await RunAsync([.. common, "--out", first, "--steps", "6", "--lr", "1e-3", "--tiny-seed", "9", "--resume"]);
        Assert.Equal(2, code);
        Assert.Contains("seed 9", error);

        var second = temp.File("second");
        var (resumed, output, _) = await RunAsync([.. common, "--out", second, "--steps", "6", "--lr", "5e-4", "--resume",
            Path.Combine(first, TrainingCheckpoints.FinalName)]);
        Assert.True(resumed == 0, output);
        Assert.Contains("resuming with LearningRate: 0.001 → 0.0005", output);
        Assert.Equal(6, TrainingCheckpoints.StepOf(Path.Combine(second, TrainingCheckpoints.FinalName)));
        Assert.Equal([4, 5, 6], File.ReadLines(Path.Combine(second, Trainer.LossFile)).Skip(1).Select(l => int.Parse(l.Split(',')[0])));
        var last = Assert.Single(TrainingValidation.Read(second));
        Assert.Null(last.LatentRelativeL2Untrained);

        // A run killed while appending leaves a torn last line; resuming reads past it.
        File.AppendAllText(Path.Combine(second, TrainingValidation.FileName), "{\"step\":6,\"id\":\"s0\",\"laten");
        File.AppendAllText(Path.Combine(second, Trainer.LossFile), "7,0.12");
        (code, _, error) = await RunAsync([.. common, "--out", second, "--steps", "8", "--lr", "5e-4", "--resume"]);
        Assert.True(code == 0, error);
        Assert.Equal([4, 5, 6, 7, 8], File.ReadLines(Path.Combine(second, Trainer.LossFile)).Skip(1).Select(l => int.Parse(l.Split(',')[0])));
        Assert.Equal([6, 8], TrainingValidation.Read(second).Select(s => s.Step));
    }

    /// <summary>Raw Relation252K: one task folder whose Group1/labels.json lists side-by-side pairs (before left, edited right).</summary>
    static string WriteRawTask(string root, string task, int pairs, params string[] missingImages)
    {
        var group = Path.Combine(root, task, "Group1");
        Directory.CreateDirectory(group);
        var entries = new System.Text.Json.Nodes.JsonArray();
        for (var k = 0; k < pairs; k++)
        {
            using var sample = TrainingData.Sample($"p{k}", k + 1);
            using var pair = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(sample.Source.Width * 2, sample.Source.Height);
            pair.Mutate(x => x.DrawImage(sample.Source, new SixLabors.ImageSharp.Point(0, 0), 1f)
                .DrawImage(sample.Target, new SixLabors.ImageSharp.Point(sample.Source.Width, 0), 1f));
            File.WriteAllBytes(Path.Combine(group, $"p{k}.png"), ImageCodec.Encode(pair, OutputFormat.Png));
            entries.Add(new System.Text.Json.Nodes.JsonObject { ["edit_instruction"] = sample.Text, ["img_name"] = $"p{k}.png" });
        }
        foreach (var missing in missingImages)
            entries.Add(new System.Text.Json.Nodes.JsonObject { ["edit_instruction"] = "gone", ["img_name"] = missing });
        File.WriteAllText(Path.Combine(group, "labels.json"), entries.ToJsonString());
        return root;
    }

    [Fact]
    public async Task Raw_task_folders_are_built_into_the_run_folder_and_trained_on_as_their_json_lines()
    {
        using var temp = new TempFolder();
        var raw = WriteRawTask(temp.File("raw"), "recolour", pairs: 2);
        var fromRaw = temp.File("from-raw");
        string[] common = ["--steps", "2", "--rank", "4", "--lr", "1e-3", "--validate-steps", "1", "--save-every", "0", "--threads", "1"];
        var (code, stdout, stderr) = await RunAsync(["--data", raw, "--out", fromRaw, .. common]);
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");

        // The rotational permutation over the task's two pairs: each is edited with the other as its exemplar.
        var built = Path.Combine(fromRaw, "data", "train", "samples.jsonl");
        var set = Core.Data.Relation252KJsonl.Read(built);
        Assert.Empty(set.Issues);
        Assert.Equal(["recolour sample p0", "recolour sample p1"], set.Samples.Select(s => s.Text));
        Assert.Equal(set.Samples[1].Source, set.Samples[0].PromptImage);
        Assert.Equal(set.Samples[0].Source, set.Samples[1].PromptImage);
        Assert.True(Directory.Exists(Path.Combine(fromRaw, TrainingCheckpoints.FinalName)));

        // Training on the built JSON Lines directly is the same run, loss for loss.
        var fromJsonl = temp.File("from-jsonl");
        (code, stdout, stderr) = await RunAsync(["--data", built, "--out", fromJsonl, .. common]);
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");
        Assert.Equal(File.ReadAllLines(Path.Combine(fromJsonl, Trainer.LossFile)), File.ReadAllLines(Path.Combine(fromRaw, Trainer.LossFile)));

        var broken = WriteRawTask(temp.File("raw-broken"), "broken", pairs: 2, "absent.png");
        (code, _, stderr) = await RunAsync(["--data", broken, "--out", temp.File("broken-run"), .. common]);
        Assert.Equal(2, code);
        Assert.Contains("labels.json", stderr);
        Assert.Contains("absent.png", stderr);
    }

    [Fact]
    public async Task Gradient_checkpointing_trains_loss_for_loss_as_without_it()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp);
        string[] common = ["--data", data, "--steps", "4", "--rank", "4", "--lr", "1e-3", "--validate-steps", "1", "--save-every", "0", "--threads", "1"];
        var plain = temp.File("plain");
        var checkpointed = temp.File("checkpointed");
        var (code, stdout, stderr) = await RunAsync([.. common, "--out", plain]);
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");
        (code, stdout, stderr) = await RunAsync([.. common, "--out", checkpointed, "--checkpointing"]);
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");

        Assert.Equal(File.ReadAllLines(Path.Combine(plain, Trainer.LossFile)), File.ReadAllLines(Path.Combine(checkpointed, Trainer.LossFile)));
        var settings = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(checkpointed, TrainingCheckpoints.FinalName, TrainingCheckpoints.InfoFile)))!["settings"]!;
        Assert.True(settings["GradientCheckpointing"]!.GetValue<bool>(), "train.json records the setting");
    }

    [Fact]
    public async Task Training_metrics_are_posted_to_an_OTLP_endpoint()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp, samples: 1);
        var port = LoopbackPort.Free();
        using var listener = new System.Net.HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var requests = new System.Collections.Concurrent.ConcurrentQueue<(string Method, string Path, string? ContentType, byte[] Body)>();
        var serving = Task.Run(async () =>
        {
            while (true)
            {
                System.Net.HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is System.Net.HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                requests.Enqueue((context.Request.HttpMethod, context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });

        var (code, stdout, stderr) = await RunAsync("--data", data, "--out", temp.File("run"), "--steps", "3", "--rank", "4", "--validate-steps", "1",
            "--save-every", "0", "--threads", "1", "--otlp-endpoint", $"http://127.0.0.1:{port}");
        listener.Stop();
        await serving;
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");

        var metrics = requests.Where(r => r is { Method: "POST", Path: "/v1/metrics" }).ToList();
        Assert.NotEmpty(metrics);
        Assert.All(metrics, r => Assert.Equal("application/x-protobuf", r.ContentType));
        // Protobuf keeps strings as UTF-8 bytes: the metric and meter names are readable in the body.
        var bodies = string.Join("\n", metrics.Select(r => System.Text.Encoding.UTF8.GetString(r.Body)));
        Assert.Contains("relation_adapter.train.loss", bodies);
        Assert.Contains("relation_adapter.train.steps", bodies);
        Assert.Contains("relation_adapter.train.step.duration", bodies);
        Assert.Contains("relation_adapter.train.validation.latent_rel_l2", bodies);
        Assert.Contains(Trainer.MeterName, bodies);
    }

    [Fact]
    public async Task Validation_with_a_CLIP_model_records_CLIP_I_and_draws_a_row_per_sample()
    {
        using var temp = new TempFolder();
        var data = WriteData(temp);
        var output = temp.File("run");
        var clipDirectory = GoldenSet.Resolve("clip");
        var (code, stdout, stderr) = await RunAsync("--data", data, "--out", output, "--steps", "2", "--rank", "4", "--validate-steps", "1",
            "--save-every", "0", "--threads", "1", "--clip-dir", clipDirectory);
        Assert.True(code == 0, $"exit code {code}: {stdout}\n{stderr}");

        var scores = TrainingValidation.Read(output);
        Assert.Equal(4, scores.Count);
        using var clip = Core.Vision.VisionLoading.LoadClipVision(clipDirectory, Core.Layers.ModuleOptions.CpuFloat32);
        var similarity = new Core.Metrics.ClipImageSimilarity(clip, Core.Vision.ClipImageProcessor.Read(Path.Combine(clipDirectory, "preprocessor_config.json")));
        foreach (var score in scores)
        {
            using var sample = TrainingData.Sample(score.Id, score.Id == "s0" ? 1 : 2);
            using var edited = ImageCodec.Decode(File.ReadAllBytes(Path.Combine(output, score.ImagePath)));
            Assert.NotNull(score.ClipI);
            Assert.Equal(similarity.Score(edited, sample.Target), score.ClipI!.Value, 6);
        }

        foreach (var step in new[] { 0, 2 })
        {
            // A row per sample: A, A', B, B' and the edit, each in a cell of the edit's size.
            using var picture = ImageCodec.Decode(File.ReadAllBytes(TrainingValidation.RowImagePath(output, step)));
            var row = scores.Where(s => s.Step == step).ToList();
            using var edit = ImageCodec.Decode(File.ReadAllBytes(Path.Combine(output, row[1].ImagePath)));
            Assert.Equal((5 * edit.Width, 2 * edit.Height), (picture.Width, picture.Height));
            using var sample = TrainingData.Sample(row[1].Id, 2);
            using var lastRow = picture.Clone(x => x.Crop(new SixLabors.ImageSharp.Rectangle(0, edit.Height, 5 * edit.Width, edit.Height)));
            SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>[] expected = [sample.PromptImage, sample.ReferenceImage, sample.Source, sample.Target, edit];
            for (var column = 0; column < 5; column++)
            {
                using var cell = lastRow.Clone(x => x.Crop(new SixLabors.ImageSharp.Rectangle(column * edit.Width, 0, edit.Width, edit.Height)));
                using var cellPixels = ImageTensors.ToHwcBytes(cell);
                using var expectedPixels = ImageTensors.ToHwcBytes(expected[column]);
                Assert.True(cellPixels.Same(expectedPixels), $"step {step}, column {column} of the second row is not its image");
            }
        }
    }
}
