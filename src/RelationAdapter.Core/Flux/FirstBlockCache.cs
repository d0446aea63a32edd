using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// First-Block Cache (as in ParaAttention and cache-dit): a step always runs the first double block; when
/// its residual (output − input, image tokens) differs from the one of the last fully computed step by less
/// than <see cref="Threshold"/> in relative L1, the remaining blocks are skipped and the residual they added
/// at that step is added again. A speed/quality trade-off: the skipped steps reuse stale work. Threshold 0
/// never reuses. One instance per job; it holds two [B, S, inner] tensors and the first one's L1 norm.
/// </summary>
public sealed class FirstBlockCache(double threshold) : IDisposable
{
    Tensor? _firstResidual, _firstResidualNorm, _remainingResidual;

    public double Threshold { get; } = threshold >= 0 ? threshold : throw new ArgumentOutOfRangeException(nameof(threshold), "must be 0 or more.");
    public int ComputedSteps { get; private set; }
    public int ReusedSteps { get; private set; }

    /// <summary>The relative L1 change of the first block's residual measured at the last step (NaN before the second).</summary>
    public double LastRelativeChange { get; private set; } = double.NaN;

    /// <summary>
    /// The final image tokens from the cached residual, or null when the step must be computed. Reads one
    /// number back from the device (a synchronisation per step).
    /// </summary>
    /// <param name="input">The image tokens entering the first block; <paramref name="firstOutput"/>: leaving it.</param>
    public Tensor? TryReuse(Tensor input, Tensor firstOutput)
    {
        if (_firstResidual is null || _firstResidualNorm is null || _remainingResidual is null) return null;
        using var scope = NewDisposeScope();
        var residual = firstOutput - input;
        var change = (linalg.vector_norm(residual - _firstResidual, 1).to(ScalarType.Float32) / _firstResidualNorm).item<float>();
        LastRelativeChange = change;
        if (!(change < Threshold)) return null;
        ReusedSteps++;
        return (firstOutput + _remainingResidual).MoveToOuterDisposeScope();
    }

    /// <summary>Records a fully computed step: the first block's residual and what the other blocks added.</summary>
    public void Store(Tensor input, Tensor firstOutput, Tensor finalOutput)
    {
        ComputedSteps++;
        Dispose();
        using var scope = NewDisposeScope();
        _firstResidual = (firstOutput - input).DetachFromDisposeScope();
        _firstResidualNorm = linalg.vector_norm(_firstResidual, 1).to(ScalarType.Float32).DetachFromDisposeScope();
        _remainingResidual = (finalOutput - firstOutput).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _firstResidual?.Dispose();
        _firstResidualNorm?.Dispose();
        _remainingResidual?.Dispose();
    }
}
