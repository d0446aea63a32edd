using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Layers;

/// <summary>LayerNorm over the last dimension, with or without an affine weight and bias.</summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter? weight;
    public readonly Parameter? bias;
    readonly long _dim;
    readonly double _eps;

    public LayerNorm(long dim, double eps, ModuleOptions options, bool affine = true) : base(nameof(LayerNorm))
    {
        _dim = dim;
        _eps = eps;
        if (affine)
        {
            weight = options.Parameter(dim);
            bias = options.Parameter(dim);
        }
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => nn.functional.layer_norm(input, [_dim], weight, bias, _eps);
}

/// <summary>
/// RMSNorm as diffusers computes it: the mean square in float32, x·rsqrt(ms + eps), then (when there is a
/// weight) cast to a half-precision weight's dtype and scaled; without a weight, cast back to x's dtype.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter? weight;
    readonly double _eps;

    public RmsNorm(long dim, double eps, ModuleOptions options, bool hasWeight = true) : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = hasWeight ? options.Parameter(dim) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var meanSquare = input.to(Precision.AtLeastFloat32(input.dtype)).pow(2).mean([-1], keepdim: true);
        var normed = input * (meanSquare + _eps).rsqrt();
        if (weight is null) return normed.to(input.dtype).MoveToOuterDisposeScope();
        if (weight.dtype is ScalarType.Float16 or ScalarType.BFloat16) normed = normed.to(weight.dtype);
        return (normed * weight).MoveToOuterDisposeScope();
    }
}

public sealed class GroupNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter bias;
    readonly long _groups;
    readonly double _eps;

    public GroupNorm(long groups, long channels, double eps, ModuleOptions options) : base(nameof(GroupNorm))
    {
        _groups = groups;
        _eps = eps;
        weight = options.Parameter(channels);
        bias = options.Parameter(channels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => nn.functional.group_norm(input, _groups, weight, bias, _eps);
}
