using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>Linear → SiLU → Linear, the MLP of every conditioning embedder (linear_1, linear_2).</summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    public readonly Linear linear_1;
    public readonly Linear linear_2;

    public TimestepEmbedding(long inChannels, long dim, ModuleOptions options) : base(nameof(TimestepEmbedding))
    {
        linear_1 = new Linear(inChannels, dim, options);
        linear_2 = new Linear(dim, dim, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var hidden = linear_1.forward(input);
        using var activated = nn.functional.silu(hidden);
        return linear_2.forward(activated);
    }
}

/// <summary>
/// temb = TimestepEmbed(t·1000) + GuidanceEmbed(g·1000) + TextProj(pooled). Only the timestep part
/// changes between steps, so the guidance and text parts are computed once per job by
/// <see cref="EmbedConstantParts"/> and added (in the reference's order) by <see cref="Combine"/>.
/// </summary>
public sealed class CombinedTimestepGuidanceTextProjEmbeddings : nn.Module
{
    public const int SinusoidChannels = 256;

    public readonly TimestepEmbedding timestep_embedder;
    public readonly TimestepEmbedding? guidance_embedder;
    public readonly TimestepEmbedding text_embedder;

    public CombinedTimestepGuidanceTextProjEmbeddings(long dim, long pooledDim, bool withGuidance, ModuleOptions options)
        : base(nameof(CombinedTimestepGuidanceTextProjEmbeddings))
    {
        timestep_embedder = new TimestepEmbedding(SinusoidChannels, dim, options);
        guidance_embedder = withGuidance ? new TimestepEmbedding(SinusoidChannels, dim, options) : null;
        text_embedder = new TimestepEmbedding(pooledDim, dim, options);
        RegisterComponents();
    }

    /// <param name="guidance">[B] guidance scales, or null for a model without guidance embeddings.</param>
    /// <param name="pooled">[B, pooledDim] pooled CLIP text embedding.</param>
    public (Tensor? Guidance, Tensor Text) EmbedConstantParts(Tensor? guidance, Tensor pooled, ScalarType dtype)
    {
        Tensor? guidanceEmbedding = null;
        if (guidance_embedder is not null)
        {
            ArgumentNullException.ThrowIfNull(guidance);
            using var scaled = guidance.to(dtype) * 1000;
            using var sinusoid = Sinusoid(scaled);
            using var cast = sinusoid.to(dtype);
            guidanceEmbedding = guidance_embedder.forward(cast);
        }
        return (guidanceEmbedding, text_embedder.forward(pooled));
    }

    /// <param name="timestep">[B] timesteps already divided by 1000 (as the pipeline passes them).</param>
    public Tensor Combine(Tensor timestep, Tensor? guidanceEmbedding, Tensor textEmbedding, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var sinusoid = Sinusoid(timestep.to(dtype) * 1000).to(dtype);
        var conditioning = timestep_embedder.forward(sinusoid);
        if (guidanceEmbedding is not null) conditioning = conditioning + guidanceEmbedding;
        return (conditioning + textEmbedding).MoveToOuterDisposeScope();
    }

    /// <summary>256 sinusoid channels, cos half first (flip_sin_to_cos), frequencies exp(-ln(10000)·i/128), in float32 (float64 for float64 timesteps).</summary>
    public static Tensor Sinusoid(Tensor timesteps)
    {
        using var scope = NewDisposeScope();
        const int half = SinusoidChannels / 2;
        var compute = Precision.AtLeastFloat32(timesteps.dtype);
        var exponent = arange(0, half, dtype: compute, device: timesteps.device) * -Math.Log(10000) / half;
        var angles = timesteps.to(compute).unsqueeze(1) * exponent.exp().unsqueeze(0);
        return cat([angles.cos(), angles.sin()], 1).MoveToOuterDisposeScope();
    }
}
