using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// FLUX attention with QK RMSNorm and RoPE. In a double-stream block it also has the context (text)
/// projections and attends over [text; image] jointly; in a single-stream block it sees one sequence and
/// has no output projection. The RelationAdapter's decoupled attention reads this layer's normalised
/// query before RoPE: only the image tokens in a double block, every token in a single block.
/// </summary>
public sealed class FluxAttention : nn.Module
{
    public readonly Linear to_q, to_k, to_v;
    public readonly RmsNorm norm_q, norm_k;
    public readonly Linear? add_q_proj, add_k_proj, add_v_proj;
    public readonly RmsNorm? norm_added_q, norm_added_k;
    public readonly TorchSharp.Modules.ModuleList<Linear>? to_out;
    public readonly Linear? to_add_out;

    readonly long _heads, _headDim;

    public FluxAttention(long dim, long heads, long headDim, bool jointWithContext, ModuleOptions options) : base(nameof(FluxAttention))
    {
        _heads = heads;
        _headDim = headDim;
        var inner = heads * headDim;
        to_q = new Linear(dim, inner, options);
        to_k = new Linear(dim, inner, options);
        to_v = new Linear(dim, inner, options);
        norm_q = new RmsNorm(headDim, 1e-6, options);
        norm_k = new RmsNorm(headDim, 1e-6, options);
        if (jointWithContext)
        {
            add_q_proj = new Linear(dim, inner, options);
            add_k_proj = new Linear(dim, inner, options);
            add_v_proj = new Linear(dim, inner, options);
            norm_added_q = new RmsNorm(headDim, 1e-6, options);
            norm_added_k = new RmsNorm(headDim, 1e-6, options);
            to_out = nn.ModuleList(new Linear(inner, dim, options));
            to_add_out = new Linear(inner, dim, options);
        }
        RegisterComponents();
    }

    /// <summary>Single-stream attention over <paramref name="x"/> = [text; image] (no output projection).</summary>
    public Tensor forward(SharedInput x, Rotary rope, RelationKeysValues? relation)
    {
        using var scope = NewDisposeScope();
        var query = Heads(norm_q, to_q.forward(x));
        var key = Heads(norm_k, to_k.forward(x));
        var value = Heads(null, to_v.forward(x));
        var attended = Attend(query, key, value, rope);
        // Added while still in head layout, so the sum is merged into tokens by one copy instead of two.
        if (relation is not null) attended = attended + relation.Attend(query);
        return MergeHeads(attended).MoveToOuterDisposeScope();
    }

    /// <summary>Joint attention of a double-stream block; returns the projected (image, context) outputs.</summary>
    public (Tensor Image, Tensor Context) forward(SharedInput image, SharedInput context, Rotary rope, RelationKeysValues? relation)
    {
        using var scope = NewDisposeScope();
        var query = Heads(norm_q, to_q.forward(image));
        var key = Heads(norm_k, to_k.forward(image));
        var value = Heads(null, to_v.forward(image));
        var contextQuery = Heads(norm_added_q, add_q_proj!.forward(context));
        var contextKey = Heads(norm_added_k, add_k_proj!.forward(context));
        var contextValue = Heads(null, add_v_proj!.forward(context));

        var attended = Attend(cat([contextQuery, query], 2), cat([contextKey, key], 2), cat([contextValue, value], 2), rope);
        var textLength = context.Value.shape[1];
        var contextOut = attended.narrow(2, 0, textLength);
        var imageOut = attended.narrow(2, textLength, attended.shape[2] - textLength);
        if (relation is not null) imageOut = imageOut + relation.Attend(query);

        var imageResult = to_out![0].forward(MergeHeads(imageOut));
        var contextResult = to_add_out!.forward(MergeHeads(contextOut));
        return (imageResult.MoveToOuterDisposeScope(), contextResult.MoveToOuterDisposeScope());
    }

    /// <summary>[B, S, H·D] → [B, H, S, D], optionally RMS-normalised per head.</summary>
    Tensor Heads(RmsNorm? norm, Tensor projected)
    {
        var heads = projected.view(projected.shape[0], -1, _heads, _headDim).transpose(1, 2);
        return norm is null ? heads : norm.forward(heads);
    }

    /// <summary>[B, H, S, D] → [B, S, H·D].</summary>
    static Tensor MergeHeads(Tensor heads) => heads.transpose(1, 2).flatten(2);

    /// <returns>The attention output in head layout [B, H, S, D].</returns>
    static Tensor Attend(Tensor query, Tensor key, Tensor value, Rotary rope) =>
        nn.functional.scaled_dot_product_attention(rope.Apply(query), rope.Apply(key), value);
}

/// <summary>The RoPE cos/sin tables of one job's [text; image] sequence.</summary>
public sealed record Rotary(Tensor Cos, Tensor Sin)
{
    public Tensor Apply(Tensor x) => Rope.Apply(x, Cos, Sin);
}
