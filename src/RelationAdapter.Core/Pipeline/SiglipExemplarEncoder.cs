using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Vision;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>An exemplar image → SigLIP's pooled output [1, D].</summary>
public sealed class SiglipExemplarEncoder(SiglipImageProcessor processor, SiglipVisionModel model, ComputePlacement placement)
    : IExemplarImageEncoder, IDisposable
{
    public SiglipVisionModel Model { get; } = model;

    public Tensor EncodePooled(Image<Rgb24> exemplar)
    {
        using var pixels = processor.Preprocess(exemplar);
        return placement.Use(Model, () =>
        {
            var (last, pooled) = Model.forward(pixels);
            last.Dispose();
            return pooled;
        });
    }

    public void Dispose() => Model.Dispose();
}
