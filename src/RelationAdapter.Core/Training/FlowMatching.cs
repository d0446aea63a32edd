using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Training;

/// <summary>
/// One training sample after the frozen encoders: the instruction's T5 states [1, T, D] and CLIP pooled
/// vector [1, P], the exemplar pair's SigLIP pooled vectors [2, D] (before, after), and the VAE posteriors
/// of the source B and the target B′ already shifted and scaled into the DiT's latent space, as packed
/// tokens [1, N, 64] (mean and std), on a latent grid of <see cref="LatentHeight"/>×<see cref="LatentWidth"/>.
/// </summary>
public sealed class EncodedExample(string id, Tensor promptHiddenStates, Tensor promptPooled, Tensor exemplarPooled,
    Tensor sourceMean, Tensor sourceStd, Tensor targetMean, Tensor targetStd, long latentHeight, long latentWidth) : IDisposable
{
    public string Id { get; } = id;
    public Tensor PromptHiddenStates { get; } = promptHiddenStates;
    public Tensor PromptPooled { get; } = promptPooled;
    public Tensor ExemplarPooled { get; } = exemplarPooled;
    public Tensor SourceMean { get; } = sourceMean;
    public Tensor SourceStd { get; } = sourceStd;
    public Tensor TargetMean { get; } = targetMean;
    public Tensor TargetStd { get; } = targetStd;
    public long LatentHeight { get; } = latentHeight;
    public long LatentWidth { get; } = latentWidth;

    public IEnumerable<(string Name, Tensor Tensor)> Tensors =>
    [
        ("prompt_hidden_states", PromptHiddenStates), ("prompt_pooled", PromptPooled), ("exemplar_pooled", ExemplarPooled),
        ("source_mean", SourceMean), ("source_std", SourceStd), ("target_mean", TargetMean), ("target_std", TargetStd),
    ];

    public void Dispose()
    {
        foreach (var (_, tensor) in Tensors) tensor.Dispose();
    }
}

public enum TimestepSampling { LogitNormal, Uniform }

/// <summary>Which target latents x₀ a step learns: a fresh draw from the VAE posterior (as diffusers' FLUX scripts), or its mean.</summary>
public enum TargetLatents { Sample, Mean }

/// <summary>
/// The rectified-flow objective of FLUX training, laid out as the in-context editor infers: the noisy
/// target tokens x_σ = (1 − σ)·x₀ + σ·ε followed by the noise-free source tokens with the same (cloned)
/// position ids, timestep σ, the guidance embedding, the relation tokens through the adapter; the DiT's
/// prediction for the target tokens is compared with ε − x₀ (MSE); the condition tokens carry no loss.
/// </summary>
public sealed class FlowMatchingObjective(FluxTransformer transformer, RelationAdapterModel adapter, double guidance, TimestepSampling sampling,
    TargetLatents targetLatents = TargetLatents.Sample)
{
    /// <summary>The loss of one example; every random number comes from <paramref name="generator"/> (CPU), in a fixed order:
    /// the source latent, the target latent (when sampled), the noise, then σ.</summary>
    public Tensor Loss(EncodedExample example, Generator generator)
    {
        using var scope = NewDisposeScope();
        var compute = Precision.AtLeastFloat32(transformer.DType);
        var device = transformer.Device;
        var condition = Draw(example.SourceMean, example.SourceStd, generator, compute, device);
        var target = targetLatents == TargetLatents.Sample
            ? Draw(example.TargetMean, example.TargetStd, generator, compute, device)
            : example.TargetMean.to(compute, device);
        var noise = randn(target.shape, dtype: compute, generator: generator).to(device);
        var sigma = (sampling == TimestepSampling.LogitNormal
            ? randn([1], dtype: compute, generator: generator).sigmoid()
            : rand([1], dtype: compute, generator: generator)).to(device);

        var noisy = (1 - sigma) * target + sigma * noise;
        var prediction = Predict(example, cat([noisy, condition], 1), sigma);
        var velocity = prediction.narrow(1, 0, target.shape[1]).to(compute);
        return nn.functional.mse_loss(velocity, noise - target).MoveToOuterDisposeScope();
    }

    /// <summary>The DiT's output for every token of <paramref name="sequence"/> ([1, 2N, C]: noisy target, then the condition) at
    /// noise level <paramref name="sigma"/> ([1]), laid out as an edit's denoising step lays it out.</summary>
    public Tensor Predict(EncodedExample example, Tensor sequence, Tensor sigma)
    {
        using var scope = NewDisposeScope();
        var pooled = example.ExemplarPooled;
        var relationTokens = adapter.RelationTokens(pooled[0], pooled[1]);
        var relation = adapter.Project(relationTokens, transformer.Config.NumAttentionHeads, [1.0]);
        using var job = transformer.Prepare(example.PromptHiddenStates, example.PromptPooled, full([1], guidance, dtype: ScalarType.Float32),
            zeros(example.PromptHiddenStates.shape[1], 3), Packing.ClonedImageIds(example.LatentHeight, example.LatentWidth), relation);
        return transformer.forward(sequence, sigma, job).MoveToOuterDisposeScope();
    }

    static Tensor Draw(Tensor mean, Tensor std, Generator generator, ScalarType dtype, Device device)
    {
        using var epsilon = randn(mean.shape, dtype: dtype, generator: generator);
        return (mean.to(dtype) + std.to(dtype) * epsilon).to(device);
    }
}
