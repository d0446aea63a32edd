using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// A double-stream (MMDiT) block: image and text keep their own modulation, projections and MLPs and
/// meet in one joint attention (diffusers' FluxTransformerBlock).
/// </summary>
public sealed class DoubleStreamBlock : nn.Module
{
    public readonly AdaLayerNormZero norm1;
    public readonly AdaLayerNormZero norm1_context;
    public readonly FluxAttention attn;
    public readonly FeedForward ff;
    public readonly FeedForward ff_context;
    readonly long _dim;

    public DoubleStreamBlock(long dim, long heads, long headDim, ModuleOptions options) : base(nameof(DoubleStreamBlock))
    {
        _dim = dim;
        norm1 = new AdaLayerNormZero(dim, options);
        norm1_context = new AdaLayerNormZero(dim, options);
        attn = new FluxAttention(dim, heads, headDim, jointWithContext: true, options);
        ff = new FeedForward(dim, 4 * dim, options);
        ff_context = new FeedForward(dim, 4 * dim, options);
        RegisterComponents();
    }

    /// <param name="activatedTemb">SiLU(temb), shared by every block of the step.</param>
    public (Tensor Image, Tensor Context) forward(Tensor image, Tensor context, SharedInput activatedTemb, Rotary rope, RelationKeysValues? relation)
    {
        using var scope = NewDisposeScope();
        var (normImage, gateMsa, shiftMlp, scaleMlp, gateMlp) = norm1.forward(image, activatedTemb);
        var (normContext, cGateMsa, cShiftMlp, cScaleMlp, cGateMlp) = norm1_context.forward(context, activatedTemb);

        (Tensor, Tensor) attended;
        using (var imageInput = new SharedInput(normImage))
        using (var contextInput = new SharedInput(normContext))
            attended = attn.forward(imageInput, contextInput, rope, relation);
        var (imageAttention, contextAttention) = attended;

        image = image + gateMsa.unsqueeze(1) * imageAttention;
        var imageMlpInput = AdaLayerNormZero.Modulate(image, _dim, shiftMlp, scaleMlp);
        image = image + gateMlp.unsqueeze(1) * ff.forward(imageMlpInput);

        context = context + cGateMsa.unsqueeze(1) * contextAttention;
        var contextMlpInput = AdaLayerNormZero.Modulate(context, _dim, cShiftMlp, cScaleMlp);
        context = context + cGateMlp.unsqueeze(1) * ff_context.forward(contextMlpInput);
        if (context.dtype == ScalarType.Float16) context = context.clip(-65504, 65504);

        return (image.MoveToOuterDisposeScope(), context.MoveToOuterDisposeScope());
    }
}
