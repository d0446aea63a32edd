using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// A single-stream block over [text; image]: attention and MLP run in parallel from one modulation
/// and are fused by proj_out (diffusers' FluxSingleTransformerBlock).
/// </summary>
public sealed class SingleStreamBlock : nn.Module
{
    public readonly AdaLayerNormZeroSingle norm;
    public readonly Linear proj_mlp;
    public readonly Linear proj_out;
    public readonly FluxAttention attn;

    public SingleStreamBlock(long dim, long heads, long headDim, ModuleOptions options) : base(nameof(SingleStreamBlock))
    {
        var mlpDim = 4 * dim;
        norm = new AdaLayerNormZeroSingle(dim, options);
        proj_mlp = new Linear(dim, mlpDim, options);
        proj_out = new Linear(dim + mlpDim, dim, options);
        attn = new FluxAttention(dim, heads, headDim, jointWithContext: false, options);
        RegisterComponents();
    }

    /// <param name="activatedTemb">SiLU(temb), shared by every block of the step.</param>
    public Tensor forward(Tensor x, SharedInput activatedTemb, Rotary rope, RelationKeysValues? relation)
    {
        using var scope = NewDisposeScope();
        var (normed, gate) = norm.forward(x, activatedTemb);
        using var input = new SharedInput(normed);
        var mlp = nn.functional.gelu(proj_mlp.forward(input), TorchSharp.Modules.GELU.Approximate.tanh);
        var attention = attn.forward(input, rope, relation);
        var output = x + gate.unsqueeze(1) * proj_out.forward(cat([attention, mlp], 2));
        if (output.dtype == ScalarType.Float16) output = output.clip(-65504, 65504);
        return output.MoveToOuterDisposeScope();
    }
}
