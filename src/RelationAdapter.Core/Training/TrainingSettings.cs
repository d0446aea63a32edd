namespace RelationAdapter.Core.Training;

public enum TrainedParts { Adapter, Lora, Both }

/// <summary>What a training run does; <see cref="Validate"/> names every bad value.</summary>
public sealed record TrainingSettings
{
    /// <summary>The total optimiser step count (a resumed run continues to it).</summary>
    public int Steps { get; init; } = 1000;
    public double LearningRate { get; init; } = 1e-4;
    public int Rank { get; init; } = 128;
    /// <summary>LoRA alpha; null: equal to the rank (scale 1).</summary>
    public double? Alpha { get; init; }
    public int MaxSide { get; init; } = 512;
    public long Seed { get; init; } = 42;
    public TrainedParts Train { get; init; } = TrainedParts.Both;
    public TimestepSampling TimestepSampling { get; init; } = TimestepSampling.LogitNormal;
    public double Guidance { get; init; } = 3.5;
    public TargetLatents TargetLatents { get; init; } = TargetLatents.Sample;
    public int WarmupSteps { get; init; }
    public LearningRateScheduleKind Schedule { get; init; } = LearningRateScheduleKind.Constant;
    public int Accumulate { get; init; } = 1;
    public double MaxGradientNorm { get; init; } = 1.0;
    public double WeightDecay { get; init; } = 1e-4;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Gradient checkpointing per DiT block: activations of a block are recomputed in the backward pass instead of kept.</summary>
    public bool GradientCheckpointing { get; init; }
    /// <summary>Save a checkpoint every this many steps (0: only at the end).</summary>
    public int SaveEvery { get; init; } = 500;
    /// <summary>Validate every this many steps (0: only at the end).</summary>
    public int ValidateEvery { get; init; } = 500;
    /// <summary>Denoising steps of a validation edit.</summary>
    public int ValidationSteps { get; init; } = 24;
    /// <summary>The seed of every validation edit (its own generator: validation never shifts training's random stream).</summary>
    public long ValidationSeed { get; init; } = 1000;

    public double LoraAlpha => Alpha ?? Rank;
    public bool TrainsAdapter => Train is TrainedParts.Adapter or TrainedParts.Both;
    public bool TrainsLora => Train is TrainedParts.Lora or TrainedParts.Both;

    /// <exception cref="ArgumentException">Every bad setting, by its option name.</exception>
    public void Validate()
    {
        var problems = new List<string>();
        void Check(bool ok, string problem)
        {
            if (!ok) problems.Add(problem);
        }
        Check(Steps >= 1, $"--steps must be at least 1 (got {Steps})");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"--lr must be a positive number (got {LearningRate})");
        Check(Rank >= 1, $"--rank must be at least 1 (got {Rank})");
        Check(Alpha is null || (Alpha > 0 && double.IsFinite(Alpha.Value)), $"--alpha must be positive (got {Alpha})");
        Check(MaxSide >= 16, $"--max-side must be at least 16 (got {MaxSide})");
        Check(Guidance is >= Pipeline.EditSettings.MinGuidance and <= Pipeline.EditSettings.MaxGuidance,
            $"--guidance must be between {Pipeline.EditSettings.MinGuidance} and {Pipeline.EditSettings.MaxGuidance}, as for an edit (got {Guidance})");
        Check(WarmupSteps >= 0 && WarmupSteps <= Steps, $"--warmup must be between 0 and --steps (got {WarmupSteps})");
        Check(Accumulate >= 1, $"--accumulate must be at least 1 (got {Accumulate})");
        Check(MaxGradientNorm > 0 && double.IsFinite(MaxGradientNorm), $"--max-grad-norm must be a positive number (got {MaxGradientNorm})");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"--weight-decay must be 0 or more (got {WeightDecay})");
        Check(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, $"--beta1 and --beta2 must be in [0, 1) (got {Beta1}, {Beta2})");
        Check(Epsilon > 0 && double.IsFinite(Epsilon), $"--epsilon must be positive (got {Epsilon})");
        Check(SaveEvery >= 0, $"--save-every must be 0 or more (got {SaveEvery})");
        Check(ValidateEvery >= 0, $"--validate-every must be 0 or more (got {ValidateEvery})");
        Check(ValidationSteps is >= Pipeline.EditSettings.MinSteps and <= Pipeline.EditSettings.MaxSteps,
            $"--validate-steps must be between {Pipeline.EditSettings.MinSteps} and {Pipeline.EditSettings.MaxSteps} (got {ValidationSteps})");
        if (problems.Count > 0) throw new ArgumentException("bad training settings: " + string.Join("; ", problems) + ".");
    }
}
