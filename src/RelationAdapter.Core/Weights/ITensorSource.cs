using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>Where a stored tensor lives and what it looks like, without reading its data.</summary>
public sealed record TensorEntry(string Name, ScalarType DType, long[] Shape, string SourceFile)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A read-only collection of named tensors (a checkpoint file, a sharded directory, an adapter).</summary>
public interface ITensorSource : IDisposable
{
    IReadOnlyCollection<string> Keys { get; }

    bool Contains(string key);

    /// <exception cref="KeyNotFoundException">The key is not stored; the message names it and the source.</exception>
    TensorEntry Describe(string key);

    /// <summary>Copies the stored tensor into <paramref name="destination"/>, converting dtype and device.</summary>
    void CopyInto(string key, Tensor destination);

    /// <summary>Reads the tensor as a new CPU tensor in its stored dtype.</summary>
    Tensor Read(string key);
}
