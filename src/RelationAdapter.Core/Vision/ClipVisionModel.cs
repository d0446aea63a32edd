using RelationAdapter.Core.Layers;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Vision;

/// <summary>
/// CLIP's image tower with its projection (transformers' CLIPVisionModelWithProjection, which reads a CLIPModel
/// checkpoint's <c>vision_model.*</c> and <c>visual_projection.weight</c>): patch embedding with a class token and
/// learned positions, a pre-layernorm, pre-norm encoder layers, the post-layernorm of the class token, projection.
/// </summary>
public sealed class ClipVisionModel : nn.Module
{
    public readonly ClipVisionTransformer vision_model;
    public readonly Linear visual_projection;

    public ClipVisionConfig Config { get; }

    public ClipVisionModel(ClipVisionConfig config, ModuleOptions options) : base(nameof(ClipVisionModel))
    {
        Config = config;
        vision_model = new ClipVisionTransformer(config, options);
        visual_projection = new Linear(config.HiddenSize, config.ProjectionDim, options, hasBias: false);
        RegisterComponents();
    }

    /// <param name="pixels">[B, 3, S, S] as <see cref="ClipImageProcessor"/> makes them.</param>
    /// <returns>The encoder's last hidden state (before the post-layernorm) [B, 1 + P, D], the pooled class token [B, D] and the image embeddings [B, E].</returns>
    public (Tensor LastHiddenState, Tensor Pooled, Tensor ImageEmbeds) forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (last, pooled) = vision_model.forward(pixels);
        var embeds = visual_projection.forward(pooled);
        return (last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), embeds.MoveToOuterDisposeScope());
    }
}

public sealed class ClipVisionTransformer : nn.Module
{
    public readonly ClipVisionEmbeddings embeddings;
    public readonly LayerNorm pre_layrnorm; // sic: the checkpoint's spelling
    public readonly ClipVisionEncoder encoder;
    public readonly LayerNorm post_layernorm;

    public ClipVisionTransformer(ClipVisionConfig config, ModuleOptions options) : base(nameof(ClipVisionTransformer))
    {
        embeddings = new ClipVisionEmbeddings(config, options);
        pre_layrnorm = new LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        encoder = new ClipVisionEncoder(config, options);
        post_layernorm = new LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        RegisterComponents();
    }

    public (Tensor LastHiddenState, Tensor Pooled) forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var weight = embeddings.patch_embedding.weight;
        var hidden = pre_layrnorm.forward(embeddings.forward(pixels.to(weight.dtype, weight.device)));
        var last = encoder.forward(hidden);
        var pooled = post_layernorm.forward(last.select(1, 0));
        return (last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }
}

public sealed class ClipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    public readonly Parameter class_embedding;
    public readonly Conv2d patch_embedding;
    public readonly Embedding position_embedding;

    public ClipVisionEmbeddings(ClipVisionConfig config, ModuleOptions options) : base(nameof(ClipVisionEmbeddings))
    {
        class_embedding = options.Parameter(config.HiddenSize);
        patch_embedding = new Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, options, stride: config.PatchSize, hasBias: false);
        position_embedding = new Embedding(config.Positions, config.HiddenSize, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        var patches = patch_embedding.forward(pixels).flatten(2).transpose(1, 2);
        var classToken = class_embedding.view(1, 1, -1).expand(patches.shape[0], 1, -1);
        var tokens = cat([classToken, patches], 1);
        return (tokens + position_embedding.weight).MoveToOuterDisposeScope();
    }
}

public sealed class ClipVisionEncoder : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<EncoderLayer> layers;

    public ClipVisionEncoder(ClipVisionConfig config, ModuleOptions options) : base(nameof(ClipVisionEncoder))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ =>
            new EncoderLayer(config.HiddenSize, config.IntermediateSize, config.NumAttentionHeads, config.LayerNormEps, config.HiddenAct, options)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in layers) x = layer.forward(x, null);
        return x.MoveToOuterDisposeScope();
    }
}
