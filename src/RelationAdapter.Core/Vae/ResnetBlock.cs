using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vae;

/// <summary>GN → SiLU → conv3x3 → GN → SiLU → conv3x3, plus a 1x1 conv_shortcut when the width changes.</summary>
public sealed class ResnetBlock : nn.Module<Tensor, Tensor>
{
    public readonly GroupNorm norm1;
    public readonly Conv2d conv1;
    public readonly GroupNorm norm2;
    public readonly Conv2d conv2;
    public readonly Conv2d? conv_shortcut;

    public ResnetBlock(long inChannels, long outChannels, long groups, ModuleOptions options) : base(nameof(ResnetBlock))
    {
        norm1 = new GroupNorm(groups, inChannels, 1e-6, options);
        conv1 = new Conv2d(inChannels, outChannels, 3, options, padding: 1);
        norm2 = new GroupNorm(groups, outChannels, 1e-6, options);
        conv2 = new Conv2d(outChannels, outChannels, 3, options, padding: 1);
        conv_shortcut = inChannels != outChannels ? new Conv2d(inChannels, outChannels, 1, options) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = conv1.forward(nn.functional.silu(norm1.forward(x)));
        h = conv2.forward(nn.functional.silu(norm2.forward(h)));
        var shortcut = conv_shortcut is null ? x : conv_shortcut.forward(x);
        return (shortcut + h).MoveToOuterDisposeScope();
    }
}

/// <summary>Halves the resolution: pad right and bottom by one pixel, then a stride-2 conv3x3 without padding.</summary>
public sealed class Downsample : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv;

    public Downsample(long channels, ModuleOptions options) : base(nameof(Downsample))
    {
        conv = new Conv2d(channels, channels, 3, options, stride: 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var padded = nn.functional.pad(x, (0, 1, 0, 1));
        return conv.forward(padded);
    }
}

/// <summary>Doubles the resolution: nearest-neighbour upsampling, then conv3x3.</summary>
public sealed class Upsample : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d conv;

    public Upsample(long channels, ModuleOptions options) : base(nameof(Upsample))
    {
        conv = new Conv2d(channels, channels, 3, options, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var upsampled = nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return conv.forward(upsampled);
    }
}
