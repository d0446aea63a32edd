using RelationAdapter.Core.Layers;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Vision;

/// <summary>
/// The SigLIP vision tower (transformers' SiglipVisionTransformer): patch and learned position
/// embeddings, pre-norm encoder layers, a post-layernorm, and the attention-pooling head whose probe
/// token gives <c>pooler_output</c>. Load it from a SiglipModel file with the prefix "vision_model.".
/// </summary>
public sealed class SiglipVisionModel : nn.Module
{
    public readonly SiglipEmbeddings embeddings;
    public readonly SiglipEncoder encoder;
    public readonly LayerNorm post_layernorm;
    public readonly SiglipPoolingHead head;

    public SiglipVisionConfig Config { get; }

    public SiglipVisionModel(SiglipVisionConfig config, ModuleOptions options) : base(nameof(SiglipVisionModel))
    {
        Config = config;
        embeddings = new SiglipEmbeddings(config, options);
        encoder = new SiglipEncoder(config, options);
        post_layernorm = new LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        head = new SiglipPoolingHead(config, options);
        RegisterComponents();
    }

    /// <param name="pixels">[B, 3, S, S] normalised to [-1, 1].</param>
    public (Tensor LastHiddenState, Tensor Pooled) forward(Tensor pixels)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weight = embeddings.patch_embedding.weight;
        var hidden = encoder.forward(embeddings.forward(pixels.to(weight.dtype, weight.device)));
        var last = post_layernorm.forward(hidden);
        var pooled = head.forward(last);
        return (last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }
}

public sealed class SiglipEmbeddings : nn.Module<Tensor, Tensor>
{
    public readonly Conv2d patch_embedding;
    public readonly Embedding position_embedding;

    public SiglipEmbeddings(SiglipVisionConfig config, ModuleOptions options) : base(nameof(SiglipEmbeddings))
    {
        patch_embedding = new Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, options, stride: config.PatchSize);
        position_embedding = new Embedding((long)config.PatchesPerSide * config.PatchesPerSide, config.HiddenSize, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor pixels)
    {
        using var patches = patch_embedding.forward(pixels);
        using var tokens = patches.flatten(2).transpose(1, 2);
        return tokens + position_embedding.weight;
    }
}

public sealed class SiglipEncoder : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<EncoderLayer> layers;

    public SiglipEncoder(SiglipVisionConfig config, ModuleOptions options) : base(nameof(SiglipEncoder))
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

/// <summary>Multi-head attention pooling: a learned probe attends over the tokens, then a residual MLP.</summary>
public sealed class SiglipPoolingHead : nn.Module<Tensor, Tensor>
{
    public readonly Parameter probe;
    public readonly PackedMultiheadAttention attention;
    public readonly LayerNorm layernorm;
    public readonly Mlp mlp;

    public SiglipPoolingHead(SiglipVisionConfig config, ModuleOptions options) : base(nameof(SiglipPoolingHead))
    {
        probe = options.Parameter(1, 1, config.HiddenSize);
        attention = new PackedMultiheadAttention(config.HiddenSize, config.NumAttentionHeads, options);
        layernorm = new LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        mlp = new Mlp(config.HiddenSize, config.IntermediateSize, config.HiddenAct, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var query = probe.expand(tokens.shape[0], -1, -1);
        var pooled = attention.forward(query, tokens);
        pooled = pooled + mlp.forward(layernorm.forward(pooled));
        return pooled.select(1, 0).MoveToOuterDisposeScope();
    }
}

/// <summary>torch.nn.MultiheadAttention's layout: q, k, v rows packed in in_proj_weight, then out_proj.</summary>
public sealed class PackedMultiheadAttention : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly Parameter in_proj_weight;
    public readonly Parameter in_proj_bias;
    public readonly Linear out_proj;
    readonly long _heads;

    public PackedMultiheadAttention(long dim, long heads, ModuleOptions options) : base(nameof(PackedMultiheadAttention))
    {
        _heads = heads;
        in_proj_weight = options.Parameter(3 * dim, dim);
        in_proj_bias = options.Parameter(3 * dim);
        out_proj = new Linear(dim, dim, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor query, Tensor keyValue)
    {
        using var scope = NewDisposeScope();
        var weights = in_proj_weight.chunk(3, 0);
        var biases = in_proj_bias.chunk(3, 0);
        var q = Heads(nn.functional.linear(query, weights[0], biases[0]));
        var k = Heads(nn.functional.linear(keyValue, weights[1], biases[1]));
        var v = Heads(nn.functional.linear(keyValue, weights[2], biases[2]));
        var attended = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2);
        return out_proj.forward(attended).MoveToOuterDisposeScope();
    }

    Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], _heads, -1).transpose(1, 2);
}
