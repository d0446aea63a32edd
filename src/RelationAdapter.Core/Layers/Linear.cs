using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Layers;

/// <summary>y = x Wᵀ + b, with parameters left uninitialised so loading 12e9 weights costs no random init.</summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;

    public long InFeatures => weight.shape[1];
    public long OutFeatures => weight.shape[0];

    public Linear(long inFeatures, long outFeatures, ModuleOptions options, bool hasBias = true) : base(nameof(Linear))
    {
        weight = options.Parameter(outFeatures, inFeatures);
        bias = hasBias ? options.Parameter(outFeatures) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => nn.functional.linear(input, weight, bias);
}
