using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vae;

/// <summary>
/// Single-head self-attention over all H·W positions at full channel width (scaled by 1/√C), with a
/// GroupNorm in front and the input added back.
/// </summary>
public sealed class VaeAttention : nn.Module<Tensor, Tensor>
{
    public readonly GroupNorm group_norm;
    public readonly Linear to_q, to_k, to_v;
    public readonly TorchSharp.Modules.ModuleList<Linear> to_out;

    public VaeAttention(long channels, long groups, ModuleOptions options) : base(nameof(VaeAttention))
    {
        group_norm = new GroupNorm(groups, channels, 1e-6, options);
        to_q = new Linear(channels, channels, options);
        to_k = new Linear(channels, channels, options);
        to_v = new Linear(channels, channels, options);
        to_out = nn.ModuleList(new Linear(channels, channels, options));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        var tokens = group_norm.forward(x).view(batch, channels, height * width).transpose(1, 2);
        var query = to_q.forward(tokens).unsqueeze(1);
        var key = to_k.forward(tokens).unsqueeze(1);
        var value = to_v.forward(tokens).unsqueeze(1);
        var attended = nn.functional.scaled_dot_product_attention(query, key, value).squeeze(1);
        var output = to_out[0].forward(attended).transpose(1, 2).reshape(batch, channels, height, width);
        return (output + x).MoveToOuterDisposeScope();
    }
}

/// <summary>resnets.0 → attentions.0 → resnets.1 at the narrowest resolution.</summary>
public sealed class MidBlock : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<ResnetBlock> resnets;
    public readonly TorchSharp.Modules.ModuleList<VaeAttention>? attentions;

    public MidBlock(long channels, long groups, bool withAttention, ModuleOptions options) : base(nameof(MidBlock))
    {
        resnets = nn.ModuleList(new ResnetBlock(channels, channels, groups, options), new ResnetBlock(channels, channels, groups, options));
        attentions = withAttention ? nn.ModuleList(new VaeAttention(channels, groups, options)) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].forward(x);
        if (attentions is not null) h = attentions[0].forward(h);
        return resnets[1].forward(h).MoveToOuterDisposeScope();
    }
}
