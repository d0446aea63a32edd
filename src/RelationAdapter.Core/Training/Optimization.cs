using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Training;

/// <summary>
/// AdamW with decoupled weight decay, written out so that its moments can be saved and restored exactly
/// (a resumed run then continues bit for bit). The update is PyTorch's:
/// p ← p·(1 − lr·wd); p ← p − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε).
/// A parameter held in bf16 or float16 (weights and activations in bf16 on CUDA) gets a float32 master copy: the
/// update runs on the master, in float32 with float32 moments, and the parameter the forward reads is refreshed
/// from it, so updates far below bf16's resolution still add up.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly double _beta1, _beta2, _epsilon, _weightDecay;
    readonly Dictionary<string, (Tensor M, Tensor V)> _moments;
    readonly Dictionary<string, Tensor> _masters;

    public AdamW(IReadOnlyList<(string Name, Parameter Parameter)> parameters, double beta1, double beta2, double epsilon, double weightDecay)
    {
        (_beta1, _beta2, _epsilon, _weightDecay) = (beta1, beta2, epsilon, weightDecay);
        Parameters = parameters;
        using var _ = no_grad();
        _masters = parameters.Where(p => NeedsMaster(p.Parameter.dtype)).ToDictionary(p => p.Name,
            p => p.Parameter.detach().to(ScalarType.Float32).DetachFromDisposeScope(), StringComparer.Ordinal);
        _moments = parameters.ToDictionary(p => p.Name,
            p => (zeros_like(Master(p.Name, p.Parameter)).DetachFromDisposeScope(), zeros_like(Master(p.Name, p.Parameter)).DetachFromDisposeScope()),
            StringComparer.Ordinal);
    }

    public long StepCount { get; private set; }
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters { get; }

    /// <summary>What the optimiser updates, by parameter name: the float32 master copy, or the parameter itself when it is float32 or wider.</summary>
    public IReadOnlyList<(string Name, Tensor Master)> Masters => Parameters.Select(p => (p.Name, Master(p.Name, p.Parameter))).ToList();

    Tensor Master(string name, Parameter parameter) => _masters.TryGetValue(name, out var master) ? master : parameter;

    static bool NeedsMaster(ScalarType dtype) => dtype is ScalarType.BFloat16 or ScalarType.Float16;

    public void Step(double learningRate)
    {
        StepCount++;
        var correction1 = 1 - Math.Pow(_beta1, StepCount);
        var correction2 = 1 - Math.Pow(_beta2, StepCount);
        using var _ = no_grad();
        foreach (var (name, parameter) in Parameters)
        {
            using var scope = NewDisposeScope();
            var gradient = parameter.grad;
            if (gradient is null) continue;
            var master = Master(name, parameter);
            if (!ReferenceEquals(master, parameter)) gradient = gradient.to(master.dtype);
            var (m, v) = _moments[name];
            m.mul_(_beta1).add_(gradient, alpha: 1 - _beta1);
            v.mul_(_beta2).addcmul_(gradient, gradient, value: 1 - _beta2);
            master.mul_(1 - learningRate * _weightDecay);
            var denominator = (v.sqrt() / Math.Sqrt(correction2)).add_(_epsilon);
            master.addcdiv_(m, denominator, value: -learningRate / correction1);
            if (!ReferenceEquals(master, parameter)) parameter.copy_(master);
        }
    }

    /// <summary>Sets every parameter from its master copy (after the masters were restored from a checkpoint).</summary>
    public void RefreshParameters()
    {
        using var _ = no_grad();
        foreach (var (name, master) in _masters)
            Parameters.First(p => p.Name == name).Parameter.copy_(master);
    }

    public void ZeroGrad()
    {
        using var _ = no_grad();
        foreach (var (_, parameter) in Parameters)
            using (var gradient = parameter.grad)
                gradient?.zero_();
    }

    /// <summary>Scales the gradients so their joint L2 norm is at most <paramref name="maxNorm"/>; returns the norm before.</summary>
    public double ClipGradients(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var gradients = Parameters.Select(p => p.Parameter.grad).Where(g => g is not null).Select(g => g!).ToList();
        if (gradients.Count == 0) return 0;
        var total = stack(gradients.Select(g => linalg.vector_norm(g.to(ScalarType.Float64))).ToList()).pow(2).sum().sqrt().item<double>();
        if (total > maxNorm)
            foreach (var gradient in gradients) gradient.mul_(maxNorm / (total + 1e-6));
        return total;
    }

    /// <summary>The moments as named tensors ("m.&lt;name&gt;", "v.&lt;name&gt;"): views the caller must not keep past this optimiser.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> State() =>
        _moments.SelectMany(kv => new[] { ("m." + kv.Key, kv.Value.M), ("v." + kv.Key, kv.Value.V) }).ToList();

    public void Restore(Weights.ITensorSource state, long stepCount)
    {
        foreach (var (name, (m, v)) in _moments)
        {
            if (!state.Contains("m." + name) || !state.Contains("v." + name))
                throw new Weights.CheckpointFormatException(state.ToString() ?? "training state", $"no optimiser moments for '{name}': the checkpoint trained other parameters.");
            state.CopyInto("m." + name, m);
            state.CopyInto("v." + name, v);
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var (m, v) in _moments.Values)
        {
            m.Dispose();
            v.Dispose();
        }
        foreach (var master in _masters.Values) master.Dispose();
    }
}

public enum LearningRateScheduleKind { Constant, Cosine }

/// <summary>Linear warmup over the first steps, then constant or cosine decay toward 0 (diffusers' curve: the last step still learns).</summary>
public sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, LearningRateScheduleKind Kind)
{
    /// <param name="step">The optimiser step about to be taken, 1-based.</param>
    public double At(int step)
    {
        if (step <= WarmupSteps) return Peak * step / WarmupSteps;
        if (Kind == LearningRateScheduleKind.Constant) return Peak;
        var progress = (double)(step - 1 - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Peak * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1, progress)));
    }
}
