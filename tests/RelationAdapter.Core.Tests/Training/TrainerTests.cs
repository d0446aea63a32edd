using System.Globalization;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Training;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Training;

[Trait("Category", "Training")]
public class TrainerTests
{
    const long TinySeed = 1234;

    sealed class Run : IDisposable
    {
        public LoadedModels Models { get; }
        public List<TrainingImages> Images { get; } = [TrainingData.Sample("a", 1), TrainingData.Sample("b", 2)];
        public List<EncodedExample> Examples { get; }

        public Run(TrainingSettings settings, RuntimeOptions? runtime = null)
        {
            Models = ModelFactory.CreateTiny(runtime ?? RuntimeOptions.Cpu, TinySeed);
            Examples = Images.Select(i => ExampleEncoding.Encode(Models.Models, i, settings.MaxSide)).ToList();
        }

        public Trainer Trainer(TrainingSettings settings, string output, bool validate, TrainingStart? start = null) =>
            new(Models.Models, settings, output, Examples, validate ? Images.Zip(Examples, (i, e) => new ValidationSample(i, e)).ToList() : [],
                "synthetic", start ?? new TrainingStart());

        public void Dispose()
        {
            foreach (var example in Examples) example.Dispose();
            foreach (var image in Images) image.Dispose();
            Models.Dispose();
        }
    }

    sealed class Synchronous<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    static readonly TrainingSettings Tiny = new()
    {
        Rank = 4, LearningRate = 1e-3, Steps = 200, Seed = 7, SaveEvery = 0, ValidateEvery = 0, ValidationSteps = 24,
    };

    static double[] Losses(string output) => File.ReadLines(Path.Combine(output, Trainer.LossFile)).Skip(1)
        .Select(l => double.Parse(l.Split(',')[1], CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void Stopping_and_resuming_gives_the_uninterrupted_run_bit_for_bit()
    {
        var settings = Tiny with { Steps = 6, Accumulate = 2, SaveEvery = 0, Schedule = LearningRateScheduleKind.Cosine, WarmupSteps = 2 };
        using var temp = new TempFolder();
        var straight = Path.Combine(temp.Path, "straight");
        var interrupted = Path.Combine(temp.Path, "interrupted");
        var live = new Dictionary<int, long>();
        using (var run = new Run(settings))
        using (var trainer = run.Trainer(settings, straight, validate: false))
            trainer.Run(new Synchronous<TrainingProgress>(p => live[p.Step] = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[5]);

        using (var run = new Run(settings))
        using (var trainer = run.Trainer(settings, interrupted, validate: false))
        using (var stop = new CancellationTokenSource())
        {
            Assert.Equal(TrainingOutcome.Interrupted, trainer.Run(new Synchronous<TrainingProgress>(p =>
            {
                if (p.Step == 3) stop.Cancel();
            }), stop.Token));
        }
        var latest = TrainingCheckpoints.Latest(interrupted);
        Assert.Equal(Path.Combine(interrupted, TrainingCheckpoints.StepName(3)), latest);
        Assert.Empty(Directory.GetDirectories(interrupted, ".*"));
        // What an interruption leaves is a checkpoint the service loads.
        using (ModelFactory.CreateTiny(RuntimeOptions.Cpu, TinySeed, Path.Combine(latest!, TrainingCheckpoints.AdapterFile),
                   Path.Combine(latest!, TrainingCheckpoints.LoraFile))) { }

        using (var run = new Run(settings))
        using (var trainer = run.Trainer(settings, interrupted, validate: false, new TrainingStart(ResumeFrom: latest)))
        {
            Assert.Equal(3, trainer.Step);
            Assert.Equal(TrainingOutcome.Completed, trainer.Run());
        }

        foreach (var file in new[] { TrainingCheckpoints.AdapterFile, TrainingCheckpoints.LoraFile, Path.Combine(TrainingCheckpoints.StateFolder, TrainingCheckpoints.OptimizerFile) })
            Assert.True(File.ReadAllBytes(Path.Combine(straight, "final", file)).SequenceEqual(File.ReadAllBytes(Path.Combine(interrupted, "final", file))),
                $"{file} differs between the uninterrupted and the resumed run");
        Assert.Equal(File.ReadAllText(Path.Combine(straight, Trainer.LossFile)), File.ReadAllText(Path.Combine(interrupted, Trainer.LossFile)));
        Assert.Equal(6, Losses(interrupted).Length);
    }

    [Fact]
    public void Checkpointed_steps_keep_no_tensor_from_step_to_step()
    {
        var settings = Tiny with { Steps = 5, GradientCheckpointing = true };
        using var temp = new TempFolder();
        var live = new Dictionary<int, long>();
        using (var run = new Run(settings))
        using (var trainer = run.Trainer(settings, temp.Path, validate: false))
            trainer.Run(new Synchronous<TrainingProgress>(p => live[p.Step] = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        Assert.Equal(live[2], live[5]);
    }

    [Fact]
    public void Fine_tuning_starts_from_the_files_of_a_checkpoint()
    {
        var settings = Tiny with { Steps = 2 };
        using var temp = new TempFolder();
        using (var run = new Run(settings))
        using (var trainer = run.Trainer(settings, Path.Combine(temp.Path, "first"), validate: false))
            trainer.Run();
        var first = Path.Combine(temp.Path, "first", TrainingCheckpoints.FinalName);

        using var again = new Run(settings);
        using var tuned = again.Trainer(settings with { Steps = 1 }, Path.Combine(temp.Path, "second"), validate: false,
            new TrainingStart(Path.Combine(first, TrainingCheckpoints.AdapterFile), Path.Combine(first, TrainingCheckpoints.LoraFile)));
        using var saved = SafetensorsFile.Open(Path.Combine(first, TrainingCheckpoints.AdapterFile));
        var (name, parameter) = tuned.TrainableParameters.First(p => p.Name.StartsWith("ip_adapter.", StringComparison.Ordinal));
        Assert.True(saved.Read(name).Same(parameter.detach()), "the adapter starts from the file");
        using var lora = SafetensorsFile.Open(Path.Combine(first, TrainingCheckpoints.LoraFile));
        var (module, branch) = tuned.Lora!.Branches[0];
        using var folded = branch.FoldedB();
        Assert.True(Close.RelativeL2(folded, lora.Read($"transformer.{module}.lora_B.weight")) < 1e-6, "the LoRA starts from the file");
        Assert.True(lora.Read($"transformer.{module}.lora_A.weight").Same(branch.lora_A.detach()));
    }

    [Fact]
    public void The_cosine_schedule_warms_up_to_the_peak_then_decays_and_its_last_step_still_learns()
    {
        var schedule = new LearningRateSchedule(1e-3, WarmupSteps: 2, TotalSteps: 10, LearningRateScheduleKind.Cosine);
        var rates = Enumerable.Range(1, 10).Select(schedule.At).ToArray();
        Assert.Equal([5e-4, 1e-3, 1e-3], rates[..3]);
        Assert.All(rates.Zip(rates.Skip(1)).Skip(2), pair => Assert.True(pair.Second < pair.First, $"{pair.First} then {pair.Second}"));
        // diffusers' curve: the rate of the last step is that of 7/8 of the decay, not 0.
        Assert.Equal(1e-3 * 0.5 * (1 + Math.Cos(Math.PI * 7 / 8)), rates[^1], 12);
        Assert.Equal(1e-3, new LearningRateSchedule(1e-3, 0, 10, LearningRateScheduleKind.Constant).At(10));
    }

    [Fact]
    public void Bad_settings_and_mismatched_checkpoints_are_clear_errors()
    {
        var bad = Assert.Throws<ArgumentException>(() => (Tiny with { Steps = 0, LearningRate = -1, Accumulate = 0 }).Validate());
        Assert.Contains("--steps", bad.Message);
        Assert.Contains("--lr", bad.Message);
        Assert.Contains("--accumulate", bad.Message);

        var settings = Tiny with { Steps = 1 };
        using var temp = new TempFolder();
        using (var run = new Run(settings))
        using (var trainer = run.Trainer(settings, temp.Path, validate: false))
            trainer.Run();
        var final = Path.Combine(temp.Path, TrainingCheckpoints.FinalName);

        using var other = new Run(settings);
        var rank = Assert.Throws<CheckpointFormatException>(() => other.Trainer(settings with { Rank = 2, Steps = 2 }, temp.Path, validate: false,
            new TrainingStart(ResumeFrom: final)));
        Assert.Contains("--rank", rank.Message);
        var lora = Assert.Throws<CheckpointFormatException>(() => other.Trainer(settings with { Rank = 2 }, temp.Path, validate: false,
            new TrainingStart(LoraPath: Path.Combine(final, TrainingCheckpoints.LoraFile))));
        Assert.Contains("--rank", lora.Message);
    }

    [Fact]
    public void Bf16_parameters_are_trained_through_float32_master_copies()
    {
        var settings = Tiny with { Steps = 2 };
        using var temp = new TempFolder();
        using var run = new Run(settings, new RuntimeOptions(CPU, ScalarType.BFloat16));
        using var trainer = run.Trainer(settings, temp.Path, validate: false);
        var halves = trainer.TrainableParameters.Where(p => p.Parameter.dtype == ScalarType.BFloat16).ToList();
        Assert.Contains(halves, p => p.Name.StartsWith("ip_adapter.", StringComparison.Ordinal));
        using var scope = NewDisposeScope();
        var before = trainer.MasterParameters.ToDictionary(p => p.Name, p => p.Master.clone());

        trainer.Run();

        var masters = trainer.MasterParameters.ToDictionary(p => p.Name, p => p.Master);
        foreach (var (name, parameter) in trainer.TrainableParameters)
        {
            Assert.True(masters[name].dtype is ScalarType.Float32 or ScalarType.Float64, $"{name}: the optimiser updates a {masters[name].dtype} copy");
            Assert.True(parameter.detach().Same(masters[name].to(parameter.dtype)), $"{name}: the forward's weights are not the master's");
        }
        Assert.All(halves, p => Assert.False(masters[p.Name].Same(before[p.Name]), $"{p.Name} was not updated"));
        // The masters keep what bf16 rounds away.
        Assert.Contains(halves, p => !masters[p.Name].Same(p.Parameter.detach().to(ScalarType.Float32)));
        // A resumed run continues from the masters, not from their bf16 rounding.
        using var state = SafetensorsFile.Open(Path.Combine(temp.Path, TrainingCheckpoints.FinalName, TrainingCheckpoints.StateFolder, TrainingCheckpoints.ParametersFile));
        Assert.All(halves, p => Assert.True(state.Read(p.Name).Same(masters[p.Name]), $"{p.Name}: the training state holds another copy"));
    }
}
