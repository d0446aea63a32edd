using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// FLUX's rotary position embedding: each of the three id axes (index, row, column) gets its own band
/// of frequencies 1/θ^(2k/d); cos and sin are repeated per interleaved pair. Tables are built in float64
/// and stored in float32 (float64 for a float64 model), once per job.
/// </summary>
public static class Rope
{
    public const double Theta = 10000;

    /// <param name="ids">[S, axes] position ids (text rows are zeros).</param>
    /// <returns>cos, sin: [S, Σ axesDims] in <paramref name="dtype"/>.</returns>
    public static (Tensor Cos, Tensor Sin) Tables(Tensor ids, IReadOnlyList<int> axesDims, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var positions = ids.to(ScalarType.Float64);
        var cosParts = new List<Tensor>();
        var sinParts = new List<Tensor>();
        for (var axis = 0; axis < axesDims.Count; axis++)
        {
            var dim = axesDims[axis];
            var frequencies = 1.0 / pow(Theta, arange(0, dim, 2, dtype: ScalarType.Float64, device: ids.device) / dim);
            var angles = outer(positions[.., axis], frequencies);
            cosParts.Add(angles.cos().repeat_interleave(2, dim: 1));
            sinParts.Add(angles.sin().repeat_interleave(2, dim: 1));
        }
        var cos = cat(cosParts, 1).to(dtype);
        var sin = cat(sinParts, 1).to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>(x0, x1) → (x0·cos − x1·sin, x1·cos + x0·sin) per interleaved pair, computed in float32 (or float64).</summary>
    /// <param name="x">[B, H, S, D].</param>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var pairs = x.reshape([.. x.shape[..^1], -1, 2]);
        var real = pairs.select(-1, 0);
        var imaginary = pairs.select(-1, 1);
        var rotated = stack([-imaginary, real], -1).flatten(3);
        var compute = Precision.AtLeastFloat32(x.dtype);
        var result = x.to(compute) * cos + rotated.to(compute) * sin;
        return result.to(x.dtype).MoveToOuterDisposeScope();
    }
}
