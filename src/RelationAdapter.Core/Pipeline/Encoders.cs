using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Core.Pipeline;

/// <summary>Turns an instruction into the DiT's text conditioning (T5-XXL + CLIP-L in FLUX).</summary>
public interface IPromptEncoder
{
    PromptEmbedding Encode(string prompt);
}

/// <summary>Turns one exemplar image into its pooled vision embedding (SigLIP in the RelationAdapter): [1, D].</summary>
public interface IExemplarImageEncoder
{
    TorchSharp.torch.Tensor EncodePooled(Image<Rgb24> exemplar);
}
