using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Data;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Core.Training;
using RelationAdapter.Core.Weights;
using Spectre.Console;

namespace RelationAdapter.Train;

/// <summary>Reads the data, composes the model as the service does, trains, and shows it going.</summary>
public static class TrainCommand
{
    /// <summary>0: finished; 1: an unexpected failure (with its stack trace); 2: bad data, settings or files, or training diverged;
    /// 3: stopped by a signal (a checkpoint was saved).</summary>
    public static int Run(TrainOptions options)
    {
        try
        {
            return Execute(options);
        }
        // What the user can act on (data, settings, files, devices) is a message, not a stack trace.
        catch (Exception e) when (e is InvalidDataException or ArgumentException or CheckpointFormatException or IOException or UnauthorizedAccessException
                                      or System.Text.Json.JsonException or NotSupportedException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: {e}");
            return 1;
        }
    }

    static int Execute(TrainOptions options)
    {
        if (File.Exists(options.Output)) throw new InvalidDataException($"--out {options.Output} is a file, not a folder.");
        if (options.Resume is null && (TrainingCheckpoints.Latest(options.Output) is not null || File.Exists(Path.Combine(options.Output, Trainer.LossFile))))
            throw new InvalidDataException($"{options.Output} already holds a run: continue it with --resume, or train into another --out.");
        var (training, validation) = ReadData(options);
        // A resume that would be refused is refused now, before minutes of loading and encoding.
        var resume = ResumePoint(options);
        var dataHash = DataHash(training);
        var start = new TrainingStart(options.Adapter, options.Lora, resume, BaseModel(options));
        if (resume is not null) Trainer.CheckResumable(resume, options.Settings, start, dataHash);

        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        void Stop(PosixSignalContext context)
        {
            // A second signal is the way out of a long validation or encoding: the process ends at once.
            if (stop.IsCancellationRequested)
            {
                Console.Error.WriteLine("stopping now, without a checkpoint of the current step");
                return;
            }
            context.Cancel = true;
            Console.Error.WriteLine("stopping: saving a checkpoint after the current step… (signal again to stop at once)");
            stop.Cancel();
        }

        using var metrics = options.OtlpEndpoint is { } endpoint ? TrainTelemetry.Start(endpoint) : null;
        if (metrics is not null) Console.WriteLine($"metrics: OTLP to {options.OtlpEndpoint}");
        var settings = options.Settings;
        if (options.Threads > 0) TorchSharp.torch.set_num_threads(options.Threads);
        var runtime = RuntimeOptions.ForDevice(options.Device);
        using var models = options.Preset == "tiny"
            ? ModelFactory.CreateTiny(runtime, options.TinySeed)
            : ModelFactory.Load(new ModelPaths(options.FluxDirectory!, options.SiglipDirectory!, options.Adapter!, null), runtime);
        Console.WriteLine($"model: {models.Description}");
        Console.WriteLine($"data: {training.Count} training sample(s), {validation.Count} for validation");

        var images = new List<TrainingImages>();
        var examples = new List<EncodedExample>();
        try
        {
            var cache = options.CacheDirectory is null ? null : new EncodedExampleCache(options.CacheDirectory, $"{models.Description} | {start.BaseModel}", Console.Error.WriteLine);
            foreach (var sample in training.Concat(validation))
            {
                var loaded = TrainingImages.Load(sample);
                images.Add(loaded);
                examples.Add(cache?.GetOrEncode(models.Models, loaded, settings.MaxSide) ?? ExampleEncoding.Encode(models.Models, loaded, settings.MaxSide));
            }
            using var similarity = options.ClipDirectory is { } clipDirectory ? ClipImageSimilarity.Load(clipDirectory) : null;
            if (resume is not null) Console.WriteLine($"resuming from {resume} (step {TrainingCheckpoints.StepOf(resume)})");
            using var trainer = new Trainer(models.Models, settings, options.Output, examples.Take(training.Count).ToList(),
                validation.Select((_, i) => new ValidationSample(images[training.Count + i], examples[training.Count + i])).ToList(),
                dataHash, start, similarity);
            foreach (var change in trainer.ResumedWith) Console.WriteLine($"resuming with {change}");
            var outcome = Train(trainer, options, stop.Token);
            LossPlot.Write(options.Output);
            var scores = TrainingValidation.Read(options.Output);
            foreach (var score in scores.Where(s => s.Step == scores.Max(m => m.Step)))
                Console.WriteLine($"validation {score.Id}: latent_rel_l2 {score.LatentRelativeL2:F4} (untrained {score.LatentRelativeL2Untrained?.ToString("F4") ?? "not measured in this folder"}), mse {score.PixelMse:F4}" +
                                  (score.ClipI is { } clipI ? $", clip_i {clipI:F4}" : ""));
            Console.WriteLine(outcome == TrainingOutcome.Completed
                ? $"done: {Path.Combine(options.Output, TrainingCheckpoints.FinalName)}"
                : $"stopped at step {trainer.Step}: {Path.Combine(options.Output, TrainingCheckpoints.StepName(trainer.Step))} (continue with --resume)");
            return outcome == TrainingOutcome.Completed ? 0 : 3;
        }
        finally
        {
            foreach (var example in examples) example.Dispose();
            foreach (var image in images) image.Dispose();
        }
    }

    static TrainingOutcome Train(Trainer trainer, TrainOptions options, CancellationToken stop)
    {
        var total = options.Settings.Steps;
        void Plot(TrainingProgress p)
        {
            if (p.Step % 25 == 0) LossPlot.Write(options.Output);
        }
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return trainer.Run(new Synchronous(p =>
            {
                if (p.Step % 10 == 0 || p.Step == total)
                    Console.WriteLine($"step {p.Step}/{total} loss {p.Loss:F5} lr {p.LearningRate:G3} {Rate(p):F2} it/s");
                Plot(p);
            }), stop);
        }
        TrainingOutcome outcome = default;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(context =>
            {
                var task = context.AddTask("training", maxValue: total);
                task.Value = trainer.Step;
                outcome = trainer.Run(new Synchronous(p =>
                {
                    task.Value = p.Step;
                    task.Description = $"step {p.Step}/{total} loss {p.Loss:F4} {Rate(p):F2} it/s";
                    Plot(p);
                }), stop);
            });
        return outcome;
    }

    static double Rate(TrainingProgress p) => (p.Step - p.StartStep) / Math.Max(1e-9, p.Elapsed.TotalSeconds);

    sealed class Synchronous(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }

    /// <summary>The training and validation samples; every unreadable line is an error naming its file and line.</summary>
    static (IReadOnlyList<RelationSample> Training, IReadOnlyList<RelationSample> Validation) ReadData(TrainOptions options)
    {
        var data = ReadChecked(RunReady(options.Data, options.Output, "train"));
        if (options.ValidateData is { } validatePath) return (data, ReadChecked(RunReady(validatePath, options.Output, "validation")));
        if (options.ValidateFraction > 0)
        {
            var held = (int)Math.Ceiling(data.Count * options.ValidateFraction);
            if (held >= data.Count) throw new InvalidDataException($"--validate-fraction {options.ValidateFraction} leaves no training sample of {data.Count}.");
            return (data.Take(data.Count - held).ToList(), data.Skip(data.Count - held).ToList());
        }
        return (data, data.Take(2).ToList());
    }

    /// <summary>
    /// JSON Lines as they are; a folder of raw Relation252K tasks built (rotational permutation, file order) into
    /// <c>DIR/data/NAME/samples.jsonl</c> with the pair halves beside it, so the run keeps what it trained on.
    /// </summary>
    static string RunReady(string data, string output, string name)
    {
        if (!Directory.Exists(data)) return data;
        var built = Path.Combine(output, "data", name, "samples.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(built)!);
        var result = Relation252KRawBuilder.Build(new RawBuildOptions(data, built));
        if (result.Issues.Count > 0)
            throw new InvalidDataException($"{result.Issues.Count} bad entry(s) in the raw tasks of {data}:\n  " + string.Join("\n  ", result.Issues.Take(20)) +
                                           (result.Issues.Count > 20 ? $"\n  … ({result.Issues.Count - 20} more)" : ""));
        Console.WriteLine($"data: built {built} from {result.Pairs} pair(s) in {result.Tasks} task folder(s) of {data}");
        return built;
    }

    static IReadOnlyList<RelationSample> ReadChecked(string path)
    {
        var set = Relation252KJsonl.Read(path);
        if (set.Issues.Count > 0)
            throw new InvalidDataException($"{set.Issues.Count} bad line(s) in {path}:\n  " + string.Join("\n  ", set.Issues.Take(20)) +
                                           (set.Issues.Count > 20 ? $"\n  … ({set.Issues.Count - 20} more)" : ""));
        if (set.Samples.Count == 0) throw new InvalidDataException($"{path} has no samples.");
        return set.Samples;
    }

    /// <summary>What the run trains over: the preset and its seed, or the model folders' files (the starting files are compared apart).</summary>
    static string BaseModel(TrainOptions options) => options.Preset == "tiny"
        ? $"tiny preset, seed {options.TinySeed}"
        : "flux1-dev: " + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            ModelFiles.FolderFingerprint(options.FluxDirectory!) + "|" + ModelFiles.FolderFingerprint(options.SiglipDirectory!))));

    static string? ResumePoint(TrainOptions options)
    {
        if (options.Resume is null) return null;
        if (options.Resume.Length > 0) return options.Resume;
        var latest = TrainingCheckpoints.Latest(options.Output);
        if (latest is null) Console.WriteLine($"--resume: no checkpoint in {options.Output} yet, starting afresh");
        return latest;
    }

    /// <summary>SHA-256 of every training sample's id, instruction and image bytes, in order.</summary>
    static string DataHash(IEnumerable<RelationSample> samples)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var sample in samples)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(sample.Id + "\n" + sample.Text + "\n"));
            foreach (var path in sample.ImagePaths) hash.AppendData(File.ReadAllBytes(path));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
