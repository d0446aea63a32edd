using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>net.0.proj → GELU(tanh) → (net.1: dropout, nothing at inference) → net.2.</summary>
public sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<nn.Module> net;

    public FeedForward(long dim, long hidden, ModuleOptions options) : base(nameof(FeedForward))
    {
        net = nn.ModuleList<nn.Module>(new GeluProjection(dim, hidden, options), nn.Identity(), new Linear(hidden, dim, options));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var hidden = ((GeluProjection)net[0]).forward(x);
        return ((Linear)net[2]).forward(hidden);
    }

    public sealed class GeluProjection : nn.Module<Tensor, Tensor>
    {
        public readonly Linear proj;

        public GeluProjection(long dim, long hidden, ModuleOptions options) : base(nameof(GeluProjection))
        {
            proj = new Linear(dim, hidden, options);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            using var projected = proj.forward(x);
            return nn.functional.gelu(projected, TorchSharp.Modules.GELU.Approximate.tanh);
        }
    }
}
