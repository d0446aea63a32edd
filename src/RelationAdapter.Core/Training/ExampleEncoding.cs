using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Training;

/// <summary>One training sample's images and instruction: the exemplar pair (A, A′), the source B and its target B′.</summary>
public sealed record TrainingImages(string Id, Image<Rgb24> PromptImage, Image<Rgb24> ReferenceImage, Image<Rgb24> Source, Image<Rgb24> Target, string Text)
    : IDisposable
{
    /// <summary>Decodes a data set sample's four images.</summary>
    public static TrainingImages Load(Data.RelationSample sample)
    {
        var images = new List<Image<Rgb24>>();
        try
        {
            foreach (var path in sample.ImagePaths)
            {
                try
                {
                    images.Add(ImageCodec.Decode(File.ReadAllBytes(path)));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ImageFormatException or UnknownImageFormatException)
                {
                    throw new InvalidDataException($"sample '{sample.Id}': cannot read {path}: {e.Message}", e);
                }
            }
            return new TrainingImages(sample.Id, images[0], images[1], images[2], images[3], sample.Text);
        }
        catch
        {
            foreach (var image in images) image.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        PromptImage.Dispose();
        ReferenceImage.Dispose();
        Source.Dispose();
        Target.Dispose();
    }
}

/// <summary>Runs the frozen encoders over a sample once, preprocessing every image exactly as an edit does.</summary>
public static class ExampleEncoding
{
    /// <param name="maxSide">The source's working size (long side at most this, multiples of 16); the target is resized to it.</param>
    public static EncodedExample Encode(EditModels models, TrainingImages sample, int maxSide)
    {
        var prompts = models.PromptEncoder ?? throw new InvalidOperationException("training needs a prompt encoder.");
        var exemplars = models.ImageEncoder ?? throw new InvalidOperationException("training needs an exemplar image encoder.");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prompt = prompts.Encode(sample.Text);
        // A caching encoder hands out its own tensors: the example keeps copies.
        var hiddenStates = prompt.HiddenStates.clone();
        var pooled = prompt.Pooled.clone();

        using var paddedPrompt = ImagePreprocessing.PadToRegularRatio(sample.PromptImage);
        using var paddedReference = ImagePreprocessing.PadToRegularRatio(sample.ReferenceImage);
        var exemplarPooled = cat([exemplars.EncodePooled(paddedPrompt).reshape(1, -1), exemplars.EncodePooled(paddedReference).reshape(1, -1)], 0);

        var (width, height) = ImagePreprocessing.SourceSize(sample.Source.Width, sample.Source.Height, maxSide);
        var (sourceMean, sourceStd) = Latents(models, ImagePreprocessing.SourcePixels(sample.Source, width, height));
        var (targetMean, targetStd) = Latents(models, ImagePreprocessing.SourcePixels(sample.Target, width, height));
        return new EncodedExample(sample.Id, hiddenStates.cpu().MoveToOuterDisposeScope(), pooled.cpu().MoveToOuterDisposeScope(),
            exemplarPooled.cpu().MoveToOuterDisposeScope(), sourceMean.MoveToOuterDisposeScope(), sourceStd.MoveToOuterDisposeScope(),
            targetMean.MoveToOuterDisposeScope(), targetStd.MoveToOuterDisposeScope(), 2L * (height / 16), 2L * (width / 16));
    }

    /// <summary>The VAE posterior in the DiT's latent space ((z − shift)·scale), as packed tokens on the CPU.</summary>
    static (Tensor Mean, Tensor Std) Latents(EditModels models, Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var config = models.Vae.Config;
        var (mean, std) = models.Vae.Encode(pixels);
        var packedMean = Packing.Pack((mean - config.ShiftFactor) * config.ScalingFactor).to(ScalarType.Float32).cpu();
        var packedStd = Packing.Pack(std * config.ScalingFactor).to(ScalarType.Float32).cpu();
        return (packedMean.MoveToOuterDisposeScope(), packedStd.MoveToOuterDisposeScope());
    }
}
