using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Vision;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Metrics;

/// <summary>
/// CLIP-I: the cosine similarity of two images' projected CLIP image embeddings (the paper uses
/// openai/clip-vit-large-patch14). A model passed in stays owned by the caller; one <see cref="Load"/> read is freed with this.
/// </summary>
public sealed class ClipImageSimilarity(ClipVisionModel model, ClipImageProcessor processor, bool ownsModel = false) : IDisposable
{
    /// <summary>A CLIPModel folder's vision tower and preprocessing, on the CPU in float32: what the evaluation and training score CLIP-I with.</summary>
    public static ClipImageSimilarity Load(string clipDirectory) =>
        new(VisionLoading.LoadClipVision(clipDirectory, ModuleOptions.CpuFloat32), ClipImageProcessor.Read(Path.Combine(clipDirectory, "preprocessor_config.json")), ownsModel: true);

    public void Dispose()
    {
        if (ownsModel) model.Dispose();
    }

    /// <summary>Unit-length image embeddings [N, E] (float32, on the CPU).</summary>
    public Tensor Embed(IEnumerable<Image<Rgb24>> images)
    {
        using var scope = NewDisposeScope();
        var (_, _, embeds) = model.forward(processor.Preprocess(images));
        return nn.functional.normalize(embeds.to(ScalarType.Float32, CPU), dim: -1).MoveToOuterDisposeScope();
    }

    /// <summary>The cosine similarity of every pair of unit embeddings [N, M].</summary>
    public static Tensor Matrix(Tensor unitEmbeddings, Tensor otherUnitEmbeddings) => unitEmbeddings.matmul(otherUnitEmbeddings.T);

    public double Score(Image<Rgb24> prediction, Image<Rgb24> target)
    {
        using var scope = NewDisposeScope();
        var embeddings = Embed([prediction, target]);
        return (embeddings[0] * embeddings[1]).sum().item<float>();
    }
}
