using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Training;

/// <summary>Where a run starts from: fresh (optionally from existing adapter / LoRA files) or a checkpoint.</summary>
/// <param name="AdapterPath">An adapter checkpoint (.bin or .safetensors) to start from; null: the adapter is initialised afresh when trained.</param>
/// <param name="LoraPath">A LoRA in the released layout to start from (trained) or to fuse (frozen).</param>
/// <param name="ResumeFrom">A checkpoint folder of this run to continue exactly.</param>
/// <param name="BaseModel">What the run trains over (a preset and its seed, or the model folders), kept in each checkpoint:
/// a resume over another base is refused.</param>
public sealed class TrainingStart(string? AdapterPath = null, string? LoraPath = null, string? ResumeFrom = null, string? BaseModel = null)
{
    public string? AdapterPath { get; } = AdapterPath;
    public string? LoraPath { get; } = LoraPath;
    public string? ResumeFrom { get; } = ResumeFrom;
    public string? BaseModel { get; } = BaseModel;

    /// <summary>
    /// What the run trains over and starts from, as its checkpoints record it: files by content, so moving them keeps a
    /// run resumable. Hashed once, however often a tool's checks and the trainer ask (a released LoRA is a gigabyte).
    /// </summary>
    public string Identity => _identity ??= new JsonObject
    {
        ["base_model"] = BaseModel,
        ["adapter"] = AdapterPath is null ? null : ModelFiles.FileFingerprint(AdapterPath),
        ["lora"] = LoraPath is null ? null : ModelFiles.FileFingerprint(LoraPath),
    }.ToJsonString();

    string? _identity;
}

/// <summary>A finished optimiser step, for progress displays.</summary>
public sealed record TrainingProgress(int Step, int TotalSteps, double Loss, double LearningRate, TimeSpan Elapsed, int StartStep);

public enum TrainingOutcome { Completed, Interrupted }

/// <summary>
/// Trains the RelationAdapter and/or the In-Context Editor LoRA with the rectified-flow objective. Every
/// random number of step s comes from generators seeded by (seed, s), and the sample order of each epoch
/// from (seed, epoch), so a resumed run draws what the uninterrupted run would have drawn: with the exact
/// parameters and optimiser moments of the checkpoint it continues bit for bit on the CPU.
/// </summary>
public sealed class Trainer : IDisposable
{
    public const string LossFile = "loss.csv";
    /// <summary>The meter of the training metrics (loss, steps, validation scores), for an exporter to listen to.</summary>
    public const string MeterName = "RelationAdapter.Train";
    static readonly Meter Meter = new(MeterName);
    static readonly Histogram<double> LossMetric = Meter.CreateHistogram<double>("relation_adapter.train.loss", description: "Mean loss of an optimiser step");
    static readonly Counter<long> StepMetric = Meter.CreateCounter<long>("relation_adapter.train.steps", description: "Optimiser steps taken");
    static readonly Histogram<double> StepDurationMetric = Meter.CreateHistogram<double>("relation_adapter.train.step.duration", unit: "s",
        description: "Time of an optimiser step (forward, backward, update)");
    static readonly Histogram<double> ValidationMetric = Meter.CreateHistogram<double>("relation_adapter.train.validation.latent_rel_l2",
        description: "Relative L2 distance of validation edits' final latents to the targets'");
    static readonly Histogram<double> ClipMetric = Meter.CreateHistogram<double>("relation_adapter.train.validation.clip_i",
        description: "CLIP-I of validation edits and their targets");

    readonly EditModels _models;
    readonly TrainingSettings _settings;
    readonly string _output;
    readonly IReadOnlyList<EncodedExample> _examples;
    readonly IReadOnlyList<ValidationSample> _validation;
    readonly string _dataHash;
    readonly TrainingStart _start;
    readonly TransformerLora? _lora;
    readonly string? _frozenLoraPath;
    readonly AdamW _optimizer;
    readonly FlowMatchingObjective _objective;
    readonly TrainingValidation _validator;
    readonly LearningRateSchedule _schedule;
    Dictionary<string, double>? _untrained;
    double _lastLoss = double.NaN;

    public int Step { get; private set; }
    /// <summary>The optimiser settings a resume changed ("key: then → now"); the run goes on from the checkpoint with them.</summary>
    public IReadOnlyList<string> ResumedWith { get; private set; } = [];
    public TransformerLora? Lora => _lora;
    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters => _optimizer.Parameters;
    /// <summary>What the optimiser updates: float32 master copies of bf16 / float16 parameters, else the parameters.</summary>
    public IReadOnlyList<(string Name, Tensor Master)> MasterParameters => _optimizer.Masters;

    /// <param name="models">The loaded model (base DiT without a fused LoRA; the adapter to start from or to reinitialise).</param>
    /// <param name="dataHash">Identifies the training data; a resumed run must have the same.</param>
    /// <param name="clip">Scores validation edits' CLIP-I; null: none.</param>
    public Trainer(EditModels models, TrainingSettings settings, string outputDirectory, IReadOnlyList<EncodedExample> examples,
        IReadOnlyList<ValidationSample> validation, string dataHash, TrainingStart start, ClipImageSimilarity? clip = null)
    {
        settings.Validate();
        if (examples.Count == 0) throw new ArgumentException("no training samples.", nameof(examples));
        _models = models;
        _settings = settings;
        _output = outputDirectory;
        _examples = examples;
        _validation = validation;
        _dataHash = dataHash;
        _start = start;
        _schedule = new LearningRateSchedule(settings.LearningRate, settings.WarmupSteps, settings.Steps, settings.Schedule);
        _objective = new FlowMatchingObjective(models.Transformer, models.Adapter, settings.Guidance, settings.TimestepSampling, settings.TargetLatents);
        _validator = new TrainingValidation(models, settings, outputDirectory, clip);
        models.Transformer.GradientCheckpointing = settings.GradientCheckpointing;

        var adapter = models.Adapter;
        adapter.Placement = null;
        if (start.AdapterPath is not null)
            using (var checkpoint = FluxLoading.OpenAdapterCheckpoint(start.AdapterPath))
                StateDictLoader.Load(adapter, checkpoint);
        else if (settings.TrainsAdapter)
            InitializeAdapter(adapter, new Generator(DerivedSeed(settings.Seed, Streams.AdapterInit, 0)));
        foreach (var (_, parameter) in adapter.named_parameters()) parameter.requires_grad = settings.TrainsAdapter;

        if (settings.TrainsLora)
        {
            using var generator = new Generator(DerivedSeed(settings.Seed, Streams.LoraInit, 0));
            _lora = new TransformerLora(models.Transformer, settings.Rank, settings.LoraAlpha, generator);
            if (start.LoraPath is not null)
                using (var file = SafetensorsFile.Open(start.LoraPath))
                    _lora.LoadReleased(file);
        }
        else if (start.LoraPath is not null)
        {
            using (var file = SafetensorsFile.Open(start.LoraPath))
                LoraFuser.Fuse(models.Transformer, file);
            _frozenLoraPath = start.LoraPath;
        }

        var trainable = new List<(string, Parameter)>();
        if (settings.TrainsAdapter) trainable.AddRange(adapter.named_parameters().Select(p => (p.name, p.parameter)));
        if (_lora is not null) trainable.AddRange(_lora.NamedParameters());
        _optimizer = new AdamW(trainable, settings.Beta1, settings.Beta2, settings.Epsilon, settings.WeightDecay);

        if (start.ResumeFrom is not null) Resume(start.ResumeFrom);
    }

    /// <summary>Runs to <see cref="TrainingSettings.Steps"/>, or until <paramref name="cancellation"/> asks to stop (then saves a checkpoint of the last finished step).</summary>
    public TrainingOutcome Run(IProgress<TrainingProgress>? progress = null, CancellationToken cancellation = default)
    {
        Directory.CreateDirectory(_output);
        if (Step == _settings.Steps && Directory.Exists(Path.Combine(_output, TrainingCheckpoints.FinalName))) return TrainingOutcome.Completed;
        if (Step == 0)
        {
            File.WriteAllText(Path.Combine(_output, LossFile), "step,loss,lr\n");
            File.Delete(Path.Combine(_output, TrainingValidation.FileName));
            var untrained = _validator.Run(0, _validation, _lora, null);
            _validator.Append(untrained);
            _untrained = untrained.ToDictionary(s => s.Id, s => s.LatentRelativeL2);
        }
        var startStep = Step;
        var clock = Stopwatch.StartNew();
        while (Step < _settings.Steps)
        {
            if (cancellation.IsCancellationRequested)
            {
                SaveCheckpoint(TrainingCheckpoints.StepName(Step));
                return TrainingOutcome.Interrupted;
            }
            var learningRate = _schedule.At(Step + 1);
            var stepStart = clock.Elapsed;
            var loss = OptimizerStep(Step + 1, learningRate);
            // Nothing of a diverged step is saved: the newest checkpoint on disk stays the last good one.
            if (!double.IsFinite(loss))
                throw new InvalidDataException($"the loss is {loss} at step {Step + 1}: training diverged. Resume from the last checkpoint with a lower --lr, or start afresh.");
            StepDurationMetric.Record((clock.Elapsed - stepStart).TotalSeconds);
            Step++;
            _lastLoss = loss;
            File.AppendAllText(Path.Combine(_output, LossFile), $"{Step},{Format(loss)},{Format(learningRate)}\n");
            LossMetric.Record(loss);
            StepMetric.Add(1);
            progress?.Report(new TrainingProgress(Step, _settings.Steps, loss, learningRate, clock.Elapsed, startStep));

            if (Step == _settings.Steps) break;
            // Saved first: a validation that fails loses no training.
            if (_settings.SaveEvery > 0 && Step % _settings.SaveEvery == 0) SaveCheckpoint(TrainingCheckpoints.StepName(Step));
            if (_settings.ValidateEvery > 0 && Step % _settings.ValidateEvery == 0) Validate();
        }
        SaveCheckpoint(TrainingCheckpoints.FinalName);
        Validate();
        return TrainingOutcome.Completed;
    }

    /// <summary>One optimiser step over <see cref="TrainingSettings.Accumulate"/> samples; returns their mean loss.</summary>
    double OptimizerStep(int step, double learningRate)
    {
        // Catches every handle a step makes (gradients read, in-place results): no tensor outlives its step.
        using var stepScope = NewDisposeScope();
        var total = 0.0;
        for (var micro = 0; micro < _settings.Accumulate; micro++)
        {
            using var scope = NewDisposeScope();
            var index = (long)(step - 1) * _settings.Accumulate + micro;
            using var generator = new Generator(DerivedSeed(_settings.Seed, Streams.Noise, index));
            var loss = _objective.Loss(_examples[SampleAt(index)], generator);
            (loss / _settings.Accumulate).backward();
            total += loss.to(ScalarType.Float64).item<double>();
        }
        _optimizer.ClipGradients(_settings.MaxGradientNorm);
        _optimizer.Step(learningRate);
        _optimizer.ZeroGrad();
        return total / _settings.Accumulate;
    }

    /// <summary>The sample of the index-th draw: each epoch visits every sample once, in an order drawn from (seed, epoch).</summary>
    int SampleAt(long index)
    {
        var count = _examples.Count;
        using var generator = new Generator(DerivedSeed(_settings.Seed, Streams.Order, index / count));
        using var order = randperm(count, generator: generator);
        using var drawn = order[index % count];
        return (int)drawn.item<long>();
    }

    void Validate()
    {
        if (_validation.Count == 0) return;
        var scores = _validator.Run(Step, _validation, _lora, _untrained);
        _validator.Append(scores);
        foreach (var score in scores)
        {
            ValidationMetric.Record(score.LatentRelativeL2);
            if (score.ClipI is { } clipI) ClipMetric.Record(clipI);
        }
    }

    /// <summary>Writes the checkpoint <paramref name="name"/> (temporary folder, then renamed).</summary>
    public string SaveCheckpoint(string name) => TrainingCheckpoints.Write(_output, name, folder =>
    {
        SafetensorsWriting.Write(Path.Combine(folder, TrainingCheckpoints.AdapterFile),
            _models.Adapter.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList());
        if (_lora is not null) _lora.Save(Path.Combine(folder, TrainingCheckpoints.LoraFile));
        else if (_frozenLoraPath is not null) File.Copy(_frozenLoraPath, Path.Combine(folder, TrainingCheckpoints.LoraFile));

        var state = Directory.CreateDirectory(Path.Combine(folder, TrainingCheckpoints.StateFolder)).FullName;
        SafetensorsWriting.Write(Path.Combine(state, TrainingCheckpoints.ParametersFile),
            _optimizer.Masters);
        SafetensorsWriting.Write(Path.Combine(state, TrainingCheckpoints.OptimizerFile), _optimizer.State());
        var stateJson = new JsonObject
        {
            ["step"] = Step,
            ["optimizer_steps"] = _optimizer.StepCount,
            ["seed"] = _settings.Seed,
            ["rng"] = "every generator is seeded from (seed, stream, step or epoch): nothing else to restore",
            ["data_hash"] = _dataHash,
            ["start"] = JsonNode.Parse(_start.Identity),
        };
        File.WriteAllText(Path.Combine(state, TrainingCheckpoints.StateFile), stateJson.ToJsonString(TrainingCheckpoints.Json));
        var info = new JsonObject
        {
            ["step"] = Step,
            ["settings"] = JsonSerializer.SerializeToNode(_settings, SettingsJson),
            ["data_hash"] = _dataHash,
            ["samples"] = _examples.Count,
            ["loss"] = double.IsFinite(_lastLoss) ? _lastLoss : null,
            ["trainable_parameters"] = _optimizer.Parameters.Sum(p => p.Parameter.NumberOfElements),
        };
        File.WriteAllText(Path.Combine(folder, TrainingCheckpoints.InfoFile), info.ToJsonString(TrainingCheckpoints.Json));
    });

    /// <summary>
    /// Refuses a resume from <paramref name="checkpoint"/> that would not continue its run (other data, steps already
    /// past, another base or start files, settings that change what is trained): for a tool to call before it loads and
    /// encodes anything. Returns the optimiser settings the resume changes, as "key: then → now".
    /// </summary>
    public static IReadOnlyList<string> CheckResumable(string checkpoint, TrainingSettings settings, TrainingStart start, string dataHash)
    {
        CheckOrigin(checkpoint, settings, start.Identity, dataHash);
        return CheckSettings(checkpoint, settings);
    }

    static void CheckOrigin(string checkpoint, TrainingSettings settings, string startIdentity, string dataHash)
    {
        var step = TrainingCheckpoints.StepOf(checkpoint);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, TrainingCheckpoints.StateFolder, TrainingCheckpoints.StateFile)))!;
        var hash = state["data_hash"]?.GetValue<string>();
        if (hash != dataHash)
            throw new InvalidDataException($"{checkpoint} was trained on other data (hash {hash}, now {dataHash}): resume with the same --data.");
        if (step > settings.Steps)
            throw new ArgumentException($"{checkpoint} is at step {step}, beyond --steps {settings.Steps}.");
        var startedFrom = state["start"]?.ToJsonString();
        if (startedFrom is not null && startedFrom != startIdentity)
            throw new ArgumentException($"{checkpoint} was trained over {startedFrom}, this run over {startIdentity}: resume with the same model options (--preset, --tiny-seed, --flux-dir, --siglip-dir, --adapter, --lora).");
    }

    static List<string> CheckSettings(string checkpoint, TrainingSettings settings)
    {
        var changed = ChangedSettings(Path.Combine(checkpoint, TrainingCheckpoints.InfoFile), settings);
        var refused = changed.Where(c => !OptimiserSettings.Contains(c.Key)).ToList();
        if (refused.Count > 0)
            throw new ArgumentException($"{checkpoint} was trained with other settings ({string.Join("; ", refused.Select(c => c.Text))}): a resume keeps what is " +
                                        "trained and how (rank, alpha, parts, seed, size, guidance, noise levels); only the optimiser's settings, --steps, " +
                                        "--save-every, --validate-every, --validate-steps and --checkpointing may change.");
        return changed.Select(c => c.Text).ToList();
    }

    void Resume(string checkpoint)
    {
        CheckOrigin(checkpoint, _settings, _start.Identity, _dataHash);
        var step = TrainingCheckpoints.StepOf(checkpoint);
        var statePath = Path.Combine(checkpoint, TrainingCheckpoints.StateFolder);
        var state = JsonNode.Parse(File.ReadAllText(Path.Combine(statePath, TrainingCheckpoints.StateFile)))!;
        using (var parameters = SafetensorsFile.Open(Path.Combine(statePath, TrainingCheckpoints.ParametersFile)))
        {
            var expected = _optimizer.Parameters.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            var stored = parameters.Keys.ToHashSet(StringComparer.Ordinal);
            if (!expected.SetEquals(stored))
                throw new CheckpointFormatException(parameters.ToString()!, "the checkpoint trained other parameters than these settings do (check --train and --rank).");
            using var _ = no_grad();
            foreach (var (name, master) in _optimizer.Masters)
            {
                if (!parameters.Describe(name).Shape.SequenceEqual(master.shape))
                    throw new CheckpointFormatException(parameters.ToString()!, $"'{name}' is {parameters.Describe(name).ShapeText}, the model's [{string.Join(", ", master.shape)}] (check --rank).");
                parameters.CopyInto(name, master);
            }
            _optimizer.RefreshParameters();
        }
        ResumedWith = CheckSettings(checkpoint, _settings);
        using (var optimizer = SafetensorsFile.Open(Path.Combine(statePath, TrainingCheckpoints.OptimizerFile)))
            _optimizer.Restore(optimizer, state["optimizer_steps"]!.GetValue<long>());
        Step = step;
        Directory.CreateDirectory(_output); // a checkpoint of another folder may start this one
        TruncateLossAfter(step);
        TrainingValidation.TruncateAfter(_output, step);
        _untrained = TrainingValidation.Read(_output).Where(s => s.Step == 0).ToDictionary(s => s.Id, s => s.LatentRelativeL2);
    }

    void TruncateLossAfter(int step)
    {
        var path = Path.Combine(_output, LossFile);
        var rows = File.Exists(path) ? File.ReadLines(path).Skip(1).Where(l => l.Length > 0).ToList() : [];
        var kept = new List<string>();
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i].Split(',') is [var at, _, _] && int.TryParse(at, NumberStyles.None, CultureInfo.InvariantCulture, out var rowStep))
            {
                if (rowStep <= step) kept.Add(rows[i]);
            }
            // A last line that does not parse is one a killed run left half written; any other is an error.
            else if (i < rows.Count - 1) throw new InvalidDataException($"{path}: line {i + 2} is not 'step,loss,lr'.");
        }
        File.WriteAllLines(path, ["step,loss,lr", .. kept]);
    }

    /// <summary>What a resume may change and still continue the same run (after a divergence, a lower rate is the remedy).</summary>
    static readonly string[] OptimiserSettings =
    [
        nameof(TrainingSettings.LearningRate), nameof(TrainingSettings.WarmupSteps), nameof(TrainingSettings.Schedule), nameof(TrainingSettings.Accumulate),
        nameof(TrainingSettings.MaxGradientNorm), nameof(TrainingSettings.WeightDecay), nameof(TrainingSettings.Beta1), nameof(TrainingSettings.Beta2),
        nameof(TrainingSettings.Epsilon),
    ];

    /// <summary>How long the run goes and what it saves and checks on the way: a resume changes them freely, unreported.</summary>
    static readonly string[] RunLengthSettings =
    [
        nameof(TrainingSettings.Steps), nameof(TrainingSettings.SaveEvery), nameof(TrainingSettings.ValidateEvery),
        nameof(TrainingSettings.ValidationSteps), nameof(TrainingSettings.GradientCheckpointing),
    ];

    /// <summary>Settings recorded in the checkpoint's <c>train.json</c> that differ now, with "key: then → now".</summary>
    static List<(string Key, string Text)> ChangedSettings(string infoPath, TrainingSettings settings)
    {
        if (!File.Exists(infoPath)) return [];
        var stored = JsonNode.Parse(File.ReadAllText(infoPath))?["settings"] as JsonObject;
        var current = JsonSerializer.SerializeToNode(settings, SettingsJson)!.AsObject();
        return stored is null ? [] : current.Where(p => !RunLengthSettings.Contains(p.Key))
            .Where(p => stored[p.Key]?.ToJsonString() != p.Value?.ToJsonString())
            .Select(p => (p.Key, $"{p.Key}: {stored[p.Key]?.ToJsonString() ?? "none"} → {p.Value?.ToJsonString() ?? "none"}")).ToList();
    }

    /// <summary>
    /// The adapter as IP-Adapter's training starts it: every linear layer as PyTorch's default (weights and
    /// biases uniform in ±1/√fan_in), the LayerNorm at weight 1 and bias 0.
    /// </summary>
    public static void InitializeAdapter(RelationAdapterModel adapter, Generator generator)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in adapter.named_parameters())
        {
            if (name.StartsWith("image_proj.norm.", StringComparison.Ordinal))
            {
                if (name.EndsWith("weight", StringComparison.Ordinal)) parameter.fill_(1);
                else parameter.zero_();
                continue;
            }
            var owner = name[..name.LastIndexOf('.')];
            var fanIn = adapter.named_parameters().First(p => p.name == owner + ".weight").parameter.shape[1];
            parameter.uniform_(-1 / Math.Sqrt(fanIn), 1 / Math.Sqrt(fanIn), generator);
        }
    }

    enum Streams { AdapterInit = 1, LoraInit = 2, Noise = 3, Order = 4 }

    /// <summary>SplitMix64 of (seed, stream, index): independent, reproducible generator seeds.</summary>
    static ulong DerivedSeed(long seed, Streams stream, long index)
    {
        var x = (ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)stream * 0xBF58476D1CE4E5B9UL ^ (ulong)index * 0x94D049BB133111EBUL;
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    static readonly JsonSerializerOptions SettingsJson = new() { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public void Dispose()
    {
        _optimizer.Dispose();
        _lora?.Dispose();
    }
}
