using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Layers;

/// <summary>A lookup table: rows of <see cref="weight"/> by index.</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;

    public Embedding(long count, long dim, ModuleOptions options) : base(nameof(Embedding))
    {
        weight = options.Parameter(count, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor indices)
    {
        using var flat = indices.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.reshape([.. indices.shape, weight.shape[1]]);
    }
}
