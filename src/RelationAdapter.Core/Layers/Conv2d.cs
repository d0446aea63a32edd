using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Layers;

public sealed class Conv2d : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    readonly long _stride, _padding;

    public Conv2d(long inChannels, long outChannels, long kernel, ModuleOptions options, long stride = 1, long padding = 0, bool hasBias = true)
        : base(nameof(Conv2d))
    {
        weight = options.Parameter(outChannels, inChannels, kernel, kernel);
        bias = hasBias ? options.Parameter(outChannels) : null;
        _stride = stride;
        _padding = padding;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) =>
        nn.functional.conv2d(input, weight, bias, strides: [_stride, _stride], padding: [_padding, _padding]);
}
