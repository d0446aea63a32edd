using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// One attention layer's RelationAdapter projections (the adapter checkpoint's "{i}.to_k_ip" and
/// "{i}.to_v_ip"). The relation tokens do not change during a job, so their keys and values are
/// projected once per job by <see cref="Project"/>; each step only runs the attention.
/// </summary>
public sealed class RelationAttention : nn.Module
{
    public const double KeyNormEps = 1e-5;

    public readonly Linear to_k_ip;
    public readonly Linear to_v_ip;

    public RelationAttention(long relationDim, long innerDim, ModuleOptions options) : base(nameof(RelationAttention))
    {
        to_k_ip = new Linear(relationDim, innerDim, options, hasBias: false);
        to_v_ip = new Linear(relationDim, innerDim, options, hasBias: false);
        RegisterComponents();
    }

    /// <param name="relationTokens">[B, R, relationDim] (R = 256 for FLUX: 128 per exemplar image).</param>
    /// <param name="scale">[B, 1, 1, 1] adapter scale alpha of each sample, or null when every alpha is 1.</param>
    public RelationKeysValues Project(Tensor relationTokens, long heads, Tensor? scale)
    {
        using var scope = NewDisposeScope();
        var batch = relationTokens.shape[0];
        var key = to_k_ip.forward(relationTokens).view(batch, -1, heads, to_k_ip.OutFeatures / heads).transpose(1, 2);
        var value = to_v_ip.forward(relationTokens).view(batch, -1, heads, to_v_ip.OutFeatures / heads).transpose(1, 2);
        var normedKey = RmsNormWithoutWeight(key);
        return new RelationKeysValues(normedKey.MoveToOuterDisposeScope(), value.contiguous().MoveToOuterDisposeScope(),
            scale?.alias().MoveToOuterDisposeScope());
    }

    static Tensor RmsNormWithoutWeight(Tensor x)
    {
        var meanSquare = x.to(Precision.AtLeastFloat32(x.dtype)).pow(2).mean([-1], keepdim: true);
        return (x * (meanSquare + KeyNormEps).rsqrt()).to(x.dtype);
    }
}

/// <summary>
/// A layer's normalised relation keys K' and values V' ([B, H, R, D]) and the adapter scale ([B, 1, 1, 1];
/// null when every sample's alpha is 1, which saves a multiplication per layer and step and changes no bit).
/// </summary>
public sealed class RelationKeysValues(Tensor key, Tensor value, Tensor? scale) : IDisposable
{
    public Tensor Key { get; } = key;
    public Tensor Value { get; } = value;
    public Tensor? Scale { get; } = scale;

    /// <summary>alpha · softmax(q K'ᵀ/√d) V' in head layout [B, H, S, D], for the layer's normalised query (before RoPE).</summary>
    public Tensor Attend(Tensor query)
    {
        var attended = nn.functional.scaled_dot_product_attention(query, Key, Value);
        if (Scale is null) return attended;
        using (attended) return Scale * attended;
    }

    public void Dispose()
    {
        Key.Dispose();
        Value.Dispose();
        Scale?.Dispose();
    }
}
