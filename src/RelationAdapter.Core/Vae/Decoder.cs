using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vae;

/// <summary>An up block: layers_per_block + 1 resnets, then (all but the last block) an upsampler.</summary>
public sealed class UpBlock : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<ResnetBlock> resnets;
    public readonly TorchSharp.Modules.ModuleList<Upsample>? upsamplers;

    public UpBlock(long inChannels, long outChannels, int layers, long groups, bool upsample, ModuleOptions options) : base(nameof(UpBlock))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers)
            .Select(i => new ResnetBlock(i == 0 ? inChannels : outChannels, outChannels, groups, options)).ToArray());
        upsamplers = upsample ? nn.ModuleList(new Upsample(outChannels, options)) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var resnet in resnets) x = resnet.forward(x);
        if (upsamplers is not null) x = upsamplers[0].forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Latents → image; up blocks in stored order, widest first.</summary>
public sealed class Decoder : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv_in;
    public readonly MidBlock mid_block;
    public readonly TorchSharp.Modules.ModuleList<UpBlock> up_blocks;
    public readonly GroupNorm conv_norm_out;
    public readonly Conv2d conv_out;

    public Decoder(VaeConfig config, ModuleOptions options) : base(nameof(Decoder))
    {
        var widths = config.BlockOutChannels.Reverse().ToArray();
        var groups = config.NormNumGroups;
        conv_in = new Conv2d(config.LatentChannels, widths[0], 3, options, padding: 1);
        mid_block = new MidBlock(widths[0], groups, config.MidBlockAddAttention, options);
        up_blocks = nn.ModuleList(widths.Select((width, i) =>
            new UpBlock(i == 0 ? widths[0] : widths[i - 1], width, config.LayersPerBlock + 1, groups, i < widths.Length - 1, options)).ToArray());
        conv_norm_out = new GroupNorm(groups, widths[^1], 1e-6, options);
        conv_out = new Conv2d(widths[^1], config.OutChannels, 3, options, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var x = conv_in.forward(latents);
        x = mid_block.forward(x);
        foreach (var block in up_blocks) x = block.forward(x);
        x = conv_out.forward(nn.functional.silu(conv_norm_out.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}
