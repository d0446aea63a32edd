using static TorchSharp.torch;

namespace RelationAdapter.Core.Layers;

/// <summary>fc1 → activation → fc2 (the MLP of CLIP and SigLIP layers).</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear fc1;
    public readonly Linear fc2;
    readonly string _activation;

    public Mlp(long dim, long hidden, string activation, ModuleOptions options) : base(nameof(Mlp))
    {
        fc1 = new Linear(dim, hidden, options);
        fc2 = new Linear(hidden, dim, options);
        _activation = activation;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var hidden = fc1.forward(x);
        using var activated = Activations.ByName(_activation, hidden);
        return fc2.forward(activated);
    }
}

/// <summary>Self-attention with separate q/k/v/out projections (CLIP and SigLIP), scaled by 1/√d.</summary>
public sealed class SelfAttention : nn.Module
{
    public readonly Linear q_proj, k_proj, v_proj, out_proj;
    readonly long _heads;

    public SelfAttention(long dim, long heads, ModuleOptions options) : base(nameof(SelfAttention))
    {
        _heads = heads;
        q_proj = new Linear(dim, dim, options);
        k_proj = new Linear(dim, dim, options);
        v_proj = new Linear(dim, dim, options);
        out_proj = new Linear(dim, dim, options);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var attended = nn.functional.scaled_dot_product_attention(Heads(q_proj.forward(x)), Heads(k_proj.forward(x)), Heads(v_proj.forward(x)), mask);
        return out_proj.forward(attended.transpose(1, 2).flatten(2)).MoveToOuterDisposeScope();
    }

    Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, -1).transpose(1, 2);
}

/// <summary>A pre-norm encoder layer: x + attn(ln1(x)), then x + mlp(ln2(x)).</summary>
public sealed class EncoderLayer : nn.Module
{
    public readonly LayerNorm layer_norm1;
    public readonly SelfAttention self_attn;
    public readonly LayerNorm layer_norm2;
    public readonly Mlp mlp;

    public EncoderLayer(long dim, long hidden, long heads, double eps, string activation, ModuleOptions options) : base(nameof(EncoderLayer))
    {
        layer_norm1 = new LayerNorm(dim, eps, options);
        self_attn = new SelfAttention(dim, heads, options);
        layer_norm2 = new LayerNorm(dim, eps, options);
        mlp = new Mlp(dim, hidden, activation, options);
        RegisterComponents();
    }

    /// <param name="mask">Additive attention mask (for CLIP's causal attention), or null.</param>
    public Tensor forward(Tensor x, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        x = x + self_attn.forward(layer_norm1.forward(x), mask);
        x = x + mlp.forward(layer_norm2.forward(x));
        return x.MoveToOuterDisposeScope();
    }
}
