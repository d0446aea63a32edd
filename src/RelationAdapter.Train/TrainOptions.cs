using System.Globalization;
using System.Numerics;
using RelationAdapter.Core.Training;

namespace RelationAdapter.Train;

/// <summary>The command line: <c>--data F.jsonl --out DIR --steps N</c> and the rest, each named in its error.</summary>
public sealed record TrainOptions
{
    public required string Data { get; init; }
    public required string Output { get; init; }
    public required TrainingSettings Settings { get; init; }
    /// <summary>Null: no resume; "": the latest checkpoint in <see cref="Output"/>; else that folder.</summary>
    public string? Resume { get; init; }
    public string? ValidateData { get; init; }
    public double ValidateFraction { get; init; }
    public string? CacheDirectory { get; init; }
    public string Preset { get; init; } = "tiny";
    public long TinySeed { get; init; } = 1234;
    public string? FluxDirectory { get; init; }
    public string? SiglipDirectory { get; init; }
    public string? Adapter { get; init; }
    public string? Lora { get; init; }
    public string Device { get; init; } = "cpu";
    /// <summary>libtorch's CPU threads (0: its default). Tiny models on a busy machine run fastest on one.</summary>
    public int Threads { get; init; }
    /// <summary>Where the training metrics go over OTLP (http/protobuf): <c>--otlp-endpoint</c>, else OTEL_EXPORTER_OTLP_ENDPOINT; null: nowhere.</summary>
    public Uri? OtlpEndpoint { get; init; }
    /// <summary>A CLIPModel folder (openai/clip-vit-large-patch14, as <c>eval score --clip-dir</c>): validation scores CLIP-I.</summary>
    public string? ClipDirectory { get; init; }

    public const string Usage = """
        usage: dotnet run --project src/RelationAdapter.Train -- --data F.jsonl --out DIR --steps N [options]
          --data F.jsonl|DIR         run-ready Relation252K JSON Lines (cond1, cond2, source, target, text), or a folder of
                                     raw task folders (Group*/labels.json), built into DIR/data/train/ first
          --out DIR                  checkpoints DIR/step-<N>/ and DIR/final/, DIR/loss.csv, DIR/loss.png, DIR/validation.jsonl
          --steps N                  total optimiser steps (a resumed run continues to it)
          --resume [CHECKPOINT_DIR]  continue exactly; alone: the latest checkpoint in --out
          --lr 1e-4  --rank 128  --alpha RANK  --max-side 512  --seed 42  --train both|adapter|lora
          --timestep-sampling logit_normal|uniform  --guidance 3.5  --warmup 0  --schedule constant|cosine
          --accumulate 1  --max-grad-norm 1  --weight-decay 1e-4  --beta1 0.9  --beta2 0.999
          --checkpointing            gradient checkpointing per DiT block (less memory, a second forward per step)
          --save-every 500  --validate-every 500  --validate-data F.jsonl|DIR  --validate-fraction 0  --validate-steps 24
          --cache-dir DIR            encoder outputs stored once, reused by later runs
          --clip-dir DIR             a CLIPModel folder: validation records CLIP-I (as eval score)
          --target-latents sample|mean  --threads 0 (libtorch's CPU threads; 0: its default)
          --otlp-endpoint URL        OpenTelemetry metrics over OTLP http/protobuf (URL/v1/metrics); default: OTEL_EXPORTER_OTLP_ENDPOINT
          model: --preset tiny|flux1-dev  --tiny-seed 1234  --flux-dir DIR  --siglip-dir DIR  --adapter FILE  --lora FILE  --device cpu|cuda|auto
        """;

    /// <summary>Options that may stand alone: <c>--resume</c> (the latest checkpoint), <c>--checkpointing</c> (on).</summary>
    static readonly HashSet<string> Flags = new(StringComparer.Ordinal) { "--resume", "--checkpointing" };

    /// <exception cref="ArgumentException">An unknown option, a missing value, or a value that does not parse, by name.</exception>
    public static TrainOptions Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal)) throw new ArgumentException($"unexpected argument '{name}'.");
            void Set(string option, string value)
            {
                if (!values.TryAdd(option, value)) throw new ArgumentException($"{option} is given twice.");
            }
            if (name.IndexOf('=') is var equals and > 0)
            {
                Set(name[..equals], name[(equals + 1)..]);
                continue;
            }
            var hasValue = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
            if (!hasValue && !Flags.Contains(name)) throw new ArgumentException($"{name} needs a value.");
            Set(name, hasValue ? args[++i] : "");
        }
        var known = new HashSet<string>(StringComparer.Ordinal)
        {
            "--data", "--out", "--steps", "--resume", "--lr", "--rank", "--alpha", "--max-side", "--seed", "--train", "--timestep-sampling",
            "--guidance", "--warmup", "--schedule", "--accumulate", "--max-grad-norm", "--weight-decay", "--beta1", "--beta2",
            "--save-every", "--validate-every", "--validate-data", "--validate-fraction", "--validate-steps", "--cache-dir",
            "--target-latents", "--threads", "--checkpointing", "--otlp-endpoint", "--clip-dir", "--preset", "--tiny-seed", "--flux-dir", "--siglip-dir", "--adapter", "--lora", "--device",
        };
        var unknown = values.Keys.Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"unknown option(s): {string.Join(", ", unknown)}.");

        string? Text(string name) => values.GetValueOrDefault(name);
        string Required(string name) => Text(name) ?? throw new ArgumentException($"{name} is required.");
        // No thousands separators: "1,5" is a mistake, not 15.
        T Number<T>(string name, T fallback) where T : INumberBase<T> =>
            Text(name) is { } text ? T.TryParse(text, typeof(T) == typeof(double) ? NumberStyles.Float : NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
                : throw new ArgumentException($"{name} '{text}' is not a number.") : fallback;
        T Choice<T>(string name, T fallback) where T : struct, Enum =>
            Text(name) is { } text ? Enum.TryParse<T>(text.Replace("_", ""), ignoreCase: true, out var value) ? value
                : throw new ArgumentException($"{name} '{text}' is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}.") : fallback;

        Required("--steps");
        var defaults = new TrainingSettings();
        var settings = new TrainingSettings
        {
            Steps = Number("--steps", 0),
            LearningRate = Number("--lr", defaults.LearningRate),
            Rank = Number("--rank", defaults.Rank),
            Alpha = Text("--alpha") is null ? null : Number("--alpha", 0.0),
            MaxSide = Number("--max-side", defaults.MaxSide),
            Seed = Number("--seed", defaults.Seed),
            Train = Choice("--train", defaults.Train),
            TimestepSampling = Choice("--timestep-sampling", defaults.TimestepSampling),
            TargetLatents = Choice("--target-latents", defaults.TargetLatents),
            Guidance = Number("--guidance", defaults.Guidance),
            WarmupSteps = Number("--warmup", defaults.WarmupSteps),
            Schedule = Choice("--schedule", defaults.Schedule),
            Accumulate = Number("--accumulate", defaults.Accumulate),
            MaxGradientNorm = Number("--max-grad-norm", defaults.MaxGradientNorm),
            WeightDecay = Number("--weight-decay", defaults.WeightDecay),
            Beta1 = Number("--beta1", defaults.Beta1),
            Beta2 = Number("--beta2", defaults.Beta2),
            SaveEvery = Number("--save-every", defaults.SaveEvery),
            ValidateEvery = Number("--validate-every", defaults.ValidateEvery),
            ValidationSteps = Number("--validate-steps", defaults.ValidationSteps),
            GradientCheckpointing = Text("--checkpointing") switch
            {
                null or "false" => false,
                "" or "true" => true,
                var other => throw new ArgumentException($"--checkpointing takes no value or true/false (got '{other}')."),
            },
        };
        settings.Validate();
        var options = new TrainOptions
        {
            Data = Required("--data"),
            Output = Required("--out"),
            Settings = settings,
            Resume = Text("--resume"),
            ValidateData = Text("--validate-data"),
            ValidateFraction = Number("--validate-fraction", 0.0),
            CacheDirectory = Text("--cache-dir"),
            Preset = Text("--preset") ?? "tiny",
            TinySeed = Number("--tiny-seed", 1234L),
            FluxDirectory = Text("--flux-dir"),
            SiglipDirectory = Text("--siglip-dir"),
            Adapter = Text("--adapter"),
            Lora = Text("--lora"),
            Device = Text("--device") ?? "cpu",
            Threads = Number("--threads", 0),
            OtlpEndpoint = TrainTelemetry.Endpoint(Text("--otlp-endpoint")),
            ClipDirectory = Text("--clip-dir"),
        };
        if (options.ClipDirectory is { } clip && !File.Exists(Path.Combine(clip, "config.json")))
            throw new ArgumentException($"--clip-dir: no CLIPModel folder (config.json) at {clip}.");
        if (options.Threads < 0 || options.Threads > Environment.ProcessorCount)
            throw new ArgumentException($"--threads must be between 0 and this machine's {Environment.ProcessorCount} cores (got {options.Threads}).");
        if (!(options.ValidateFraction is >= 0 and < 1)) throw new ArgumentException($"--validate-fraction must be in [0, 1) (got {options.ValidateFraction}).");
        if (options.ValidateFraction > 0 && options.ValidateData is not null)
            throw new ArgumentException("--validate-fraction and --validate-data both choose the validation samples: give one.");
        if (options.Preset == "tiny" && (options.FluxDirectory ?? options.SiglipDirectory) is not null)
            throw new ArgumentException("--flux-dir and --siglip-dir are for --preset flux1-dev; the tiny preset is built in.");
        if (options.Preset is not ("tiny" or "flux1-dev")) throw new ArgumentException($"--preset '{options.Preset}' is not tiny or flux1-dev.");
        if (options.Preset == "flux1-dev" && (options.FluxDirectory is null || options.SiglipDirectory is null || options.Adapter is null))
            throw new ArgumentException("--preset flux1-dev needs --flux-dir, --siglip-dir and --adapter (the adapter to start from).");
        foreach (var (data, name) in new[] { (options.Data, "--data"), (options.ValidateData, "--validate-data") })
            if (data is not null && !File.Exists(data) && !Directory.Exists(data)) throw new ArgumentException($"{name}: no such file or folder: {data}.");
        foreach (var (file, name) in new[] { (options.Adapter, "--adapter"), (options.Lora, "--lora") })
            if (file is not null && !File.Exists(file)) throw new ArgumentException($"{name}: file not found: {file}.");
        return options;
    }
}
