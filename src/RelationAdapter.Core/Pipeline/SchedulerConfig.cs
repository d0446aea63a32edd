namespace RelationAdapter.Core.Pipeline;

/// <summary>diffusers' FlowMatchEulerDiscreteScheduler settings (<c>scheduler/scheduler_config.json</c>).</summary>
public sealed record SchedulerConfig
{
    public int BaseImageSeqLen { get; init; } = 256;
    public int MaxImageSeqLen { get; init; } = 4096;
    public double BaseShift { get; init; } = 0.5;
    public double MaxShift { get; init; } = 1.15;
    public int NumTrainTimesteps { get; init; } = 1000;
    public bool UseDynamicShifting { get; init; } = true;
    public double Shift { get; init; } = 3.0;
}
