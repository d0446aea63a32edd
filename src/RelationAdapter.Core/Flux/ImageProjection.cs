using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// The RelationAdapter's MLPProjModel: a SigLIP pooled vector → Linear → GELU (erf) → Linear →
/// [tokens, cross_dim] → LayerNorm(eps 1e-5). Each exemplar image is projected on its own.
/// </summary>
public sealed class ImageProjection : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.Sequential proj;
    public readonly LayerNorm norm;
    readonly long _tokens, _crossDim;

    public ImageProjection(long imageDim, long crossDim, long tokens, ModuleOptions options) : base(nameof(ImageProjection))
    {
        _tokens = tokens;
        _crossDim = crossDim;
        proj = nn.Sequential(
            ("0", new Linear(imageDim, imageDim * 2, options)),
            ("1", nn.GELU()),
            ("2", new Linear(imageDim * 2, crossDim * tokens, options)));
        norm = new LayerNorm(crossDim, 1e-5, options);
        RegisterComponents();
    }

    /// <param name="pooled">[N, imageDim] → [N, tokens, crossDim].</param>
    public override Tensor forward(Tensor pooled)
    {
        using var projected = proj.forward(pooled);
        using var tokens = projected.reshape(-1, _tokens, _crossDim);
        return norm.forward(tokens);
    }
}
