using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>The copy logic every tensor source shares; a source only says how to fill host memory.</summary>
static class TensorCopy
{
    public static void CheckShape(TensorEntry entry, Tensor destination)
    {
        if (!entry.Shape.SequenceEqual(destination.shape))
            throw new CheckpointFormatException(entry.SourceFile,
                $"tensor '{entry.Name}' has shape {entry.ShapeText} but the module expects [{string.Join(", ", destination.shape)}].");
    }

    /// <summary>A new CPU tensor of the entry's dtype and shape, filled by <paramref name="fill"/>.</summary>
    public static Tensor NewFilled(TensorEntry entry, Action<Tensor> fill)
    {
        var tensor = empty(entry.Shape, entry.DType);
        try
        {
            fill(tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Fills a contiguous CPU destination of the stored dtype directly; anything else (another dtype, a
    /// GPU tensor) is copied from <paramref name="read"/>'s tensor, converting on the way.
    /// </summary>
    public static void Into(TensorEntry entry, Tensor destination, Action<Tensor> fill, Func<Tensor> read)
    {
        CheckShape(entry, destination);
        if (destination.device_type == DeviceType.CPU && destination.dtype == entry.DType && destination.is_contiguous())
        {
            fill(destination);
            return;
        }
        using var staged = read();
        using (no_grad()) destination.copy_(staged);
    }
}
