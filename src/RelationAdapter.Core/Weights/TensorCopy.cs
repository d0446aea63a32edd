using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

static class TensorCopy
{
    public static void CheckShape(TensorEntry entry, Tensor destination)
    {
        if (!entry.Shape.SequenceEqual(destination.shape))
            throw new CheckpointFormatException(entry.SourceFile,
                $"tensor '{entry.Name}' has shape {entry.ShapeText} but the module expects [{string.Join(", ", destination.shape)}].");
    }
}
