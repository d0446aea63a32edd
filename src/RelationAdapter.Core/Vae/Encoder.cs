using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vae;

/// <summary>A down block: resnets, then (all but the last block) a downsampler.</summary>
public sealed class DownBlock : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<ResnetBlock> resnets;
    public readonly TorchSharp.Modules.ModuleList<Downsample>? downsamplers;

    public DownBlock(long inChannels, long outChannels, int layers, long groups, bool downsample, ModuleOptions options) : base(nameof(DownBlock))
    {
        resnets = nn.ModuleList(Enumerable.Range(0, layers)
            .Select(i => new ResnetBlock(i == 0 ? inChannels : outChannels, outChannels, groups, options)).ToArray());
        downsamplers = downsample ? nn.ModuleList(new Downsample(outChannels, options)) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var resnet in resnets) x = resnet.forward(x);
        if (downsamplers is not null) x = downsamplers[0].forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>Image → 2·latent channels (mean, log-variance) at 1/8 resolution.</summary>
public sealed class Encoder : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv_in;
    public readonly TorchSharp.Modules.ModuleList<DownBlock> down_blocks;
    public readonly MidBlock mid_block;
    public readonly GroupNorm conv_norm_out;
    public readonly Conv2d conv_out;

    public Encoder(VaeConfig config, ModuleOptions options) : base(nameof(Encoder))
    {
        var widths = config.BlockOutChannels;
        var groups = config.NormNumGroups;
        conv_in = new Conv2d(config.InChannels, widths[0], 3, options, padding: 1);
        down_blocks = nn.ModuleList(widths.Select((width, i) =>
            new DownBlock(i == 0 ? widths[0] : widths[i - 1], width, config.LayersPerBlock, groups, i < widths.Length - 1, options)).ToArray());
        mid_block = new MidBlock(widths[^1], groups, config.MidBlockAddAttention, options);
        conv_norm_out = new GroupNorm(groups, widths[^1], 1e-6, options);
        conv_out = new Conv2d(widths[^1], 2 * config.LatentChannels, 3, options, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        var x = conv_in.forward(image);
        foreach (var block in down_blocks) x = block.forward(x);
        x = mid_block.forward(x);
        x = conv_out.forward(nn.functional.silu(conv_norm_out.forward(x)));
        return x.MoveToOuterDisposeScope();
    }
}
