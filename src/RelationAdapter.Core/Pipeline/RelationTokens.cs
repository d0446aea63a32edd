using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>
/// An exemplar pair's relation tokens as plain floats ([1, R, D]), for callers that keep them (caches)
/// without managing native tensor lifetimes.
/// </summary>
public sealed record RelationTokens(float[] Values, long[] Shape)
{
    public long Bytes => Values.LongLength * sizeof(float);

    public static RelationTokens From(Tensor tokens)
    {
        using var cpu = tokens.to(ScalarType.Float32).cpu().contiguous();
        return new RelationTokens(cpu.data<float>().ToArray(), cpu.shape);
    }

    /// <summary>A new CPU tensor of the tokens; the caller disposes it.</summary>
    public Tensor ToTensor() => tensor(Values, Shape);
}
