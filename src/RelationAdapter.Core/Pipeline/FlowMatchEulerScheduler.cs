using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>
/// The flow-matching Euler schedule FLUX uses: sigmas linspace(1, 1/n, n), shifted by
/// mu = seq·m + b (dynamic shifting), timesteps = sigma·1000, and a final sigma of 0.
/// The linspace is rounded to float32 before the shift, which runs in float32, as the reference does.
/// </summary>
public sealed class FlowMatchEulerScheduler
{
    public IReadOnlyList<float> Sigmas { get; }
    public IReadOnlyList<float> Timesteps { get; }
    public int StepCount => Timesteps.Count;

    FlowMatchEulerScheduler(float[] sigmas, float[] timesteps)
    {
        Sigmas = sigmas;
        Timesteps = timesteps;
    }

    /// <param name="imageSequenceLength">Tokens the DiT sees per image: in the in-context editor, noise and condition (2N).</param>
    public static FlowMatchEulerScheduler Create(SchedulerConfig config, int steps, int imageSequenceLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        var linear = Linspace(1.0, 1.0 / steps, steps).Select(s => (float)s).ToArray();
        var sigmas = new float[steps + 1];
        var timesteps = new float[steps];
        for (var i = 0; i < steps; i++)
        {
            sigmas[i] = config.UseDynamicShifting
                ? TimeShift(Mu(config, imageSequenceLength), linear[i])
                : (float)(config.Shift * linear[i] / (1 + (config.Shift - 1) * linear[i]));
            timesteps[i] = sigmas[i] * config.NumTrainTimesteps;
        }
        return new FlowMatchEulerScheduler(sigmas, timesteps);
    }

    public static double Mu(SchedulerConfig config, int imageSequenceLength)
    {
        var m = (config.MaxShift - config.BaseShift) / (config.MaxImageSeqLen - config.BaseImageSeqLen);
        var b = config.BaseShift - m * config.BaseImageSeqLen;
        return imageSequenceLength * m + b;
    }

    /// <summary>e^mu / (e^mu + 1/sigma - 1) in float32, as numpy evaluates it on a float32 array.</summary>
    static float TimeShift(double mu, float sigma)
    {
        var expMu = (float)Math.Exp(mu);
        return expMu / (expMu + (1f / sigma - 1f));
    }

    /// <summary>numpy.linspace with endpoint: start + i·step, the last value exactly <paramref name="stop"/>.</summary>
    static double[] Linspace(double start, double stop, int count)
    {
        var values = new double[count];
        var step = count > 1 ? (stop - start) / (count - 1) : 0;
        for (var i = 0; i < count; i++) values[i] = i * step + start;
        values[count - 1] = count > 1 ? stop : start;
        return values;
    }

    /// <summary>One Euler step in float32: x + (sigma_next - sigma) · v.</summary>
    public Tensor Step(Tensor velocity, int stepIndex, Tensor sample)
    {
        var dt = Sigmas[stepIndex + 1] - Sigmas[stepIndex];
        using var v = velocity.to(ScalarType.Float32);
        using var x = sample.to(ScalarType.Float32);
        using var delta = v.mul(dt); // multiply, then add: a fused add(alpha) would round differently
        return x.add(delta);
    }
}
