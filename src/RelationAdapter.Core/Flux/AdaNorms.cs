using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// SiLU(temb) → Linear → (shift, scale, gate) for attention and for the MLP; LayerNorm without affine.
/// SiLU(temb) is the same for every block of a step, so the transformer computes it once and passes it in.
/// </summary>
public sealed class AdaLayerNormZero : nn.Module
{
    public readonly Linear linear;
    readonly long _dim;

    public AdaLayerNormZero(long dim, ModuleOptions options) : base(nameof(AdaLayerNormZero))
    {
        _dim = dim;
        linear = new Linear(dim, 6 * dim, options);
        RegisterComponents();
    }

    /// <param name="activatedTemb">SiLU(temb) [B, dim].</param>
    public (Tensor Normed, Tensor GateMsa, Tensor ShiftMlp, Tensor ScaleMlp, Tensor GateMlp) forward(Tensor x, SharedInput activatedTemb)
    {
        using var emb = linear.forward(activatedTemb);
        var chunks = emb.chunk(6, 1);
        var (shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp) = (chunks[0], chunks[1], chunks[2], chunks[3], chunks[4], chunks[5]);
        var normed = Modulate(x, _dim, shiftMsa, scaleMsa);
        shiftMsa.Dispose();
        scaleMsa.Dispose();
        return (normed, gateMsa, shiftMlp, scaleMlp, gateMlp);
    }

    /// <summary>LayerNorm(x)·(1 + scale) + shift, broadcast over the tokens.</summary>
    public static Tensor Modulate(Tensor x, long dim, Tensor shift, Tensor scale)
    {
        using var scope = NewDisposeScope();
        var normed = nn.functional.layer_norm(x, [dim], null, null, 1e-6);
        return (normed * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)).MoveToOuterDisposeScope();
    }
}

/// <summary>The single-stream block's modulation: (shift, scale, gate).</summary>
public sealed class AdaLayerNormZeroSingle : nn.Module
{
    public readonly Linear linear;
    readonly long _dim;

    public AdaLayerNormZeroSingle(long dim, ModuleOptions options) : base(nameof(AdaLayerNormZeroSingle))
    {
        _dim = dim;
        linear = new Linear(dim, 3 * dim, options);
        RegisterComponents();
    }

    /// <param name="activatedTemb">SiLU(temb) [B, dim].</param>
    public (Tensor Normed, Tensor Gate) forward(Tensor x, SharedInput activatedTemb)
    {
        using var emb = linear.forward(activatedTemb);
        var chunks = emb.chunk(3, 1);
        using var shift = chunks[0];
        using var scale = chunks[1];
        return (AdaLayerNormZero.Modulate(x, _dim, shift, scale), chunks[2]);
    }
}

/// <summary>The output norm: SiLU(temb) → Linear → (SCALE, SHIFT), in that order, unlike AdaLayerNormZero.</summary>
public sealed class AdaLayerNormContinuous : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly Linear linear;
    readonly long _dim;

    public AdaLayerNormContinuous(long dim, ModuleOptions options) : base(nameof(AdaLayerNormContinuous))
    {
        _dim = dim;
        linear = new Linear(dim, 2 * dim, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor temb)
    {
        using var scope = NewDisposeScope();
        var emb = linear.forward(nn.functional.silu(temb).to(x.dtype));
        var chunks = emb.chunk(2, 1);
        return AdaLayerNormZero.Modulate(x, _dim, shift: chunks[1], scale: chunks[0]).MoveToOuterDisposeScope();
    }
}
