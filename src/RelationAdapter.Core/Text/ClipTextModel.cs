using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Text;

/// <summary>
/// The CLIP text transformer (transformers' CLIPTextTransformer, no projection): token + position
/// embeddings, causal pre-norm layers, final LayerNorm; pooled output at the first EOS token.
/// Load with the prefix "text_model.".
/// </summary>
public sealed class ClipTextModel : nn.Module
{
    public readonly ClipTextEmbeddings embeddings;
    public readonly ClipEncoder encoder;
    public readonly LayerNorm final_layer_norm;

    public ClipTextConfig Config { get; }

    public ClipTextModel(ClipTextConfig config, ModuleOptions options) : base(nameof(ClipTextModel))
    {
        Config = config;
        embeddings = new ClipTextEmbeddings(config, options);
        encoder = new ClipEncoder(config, options);
        final_layer_norm = new LayerNorm(config.HiddenSize, config.LayerNormEps, options);
        RegisterComponents();
    }

    /// <param name="inputIds">[B, L] token ids (no attention mask: CLIP is causal).</param>
    public (Tensor LastHiddenState, Tensor Pooled) forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weight = embeddings.token_embedding.weight;
        var ids = inputIds.to(ScalarType.Int64, weight.device);
        var length = ids.shape[1];
        var causal = full(length, length, float.NegativeInfinity, dtype: weight.dtype, device: weight.device).triu(1);
        var hidden = final_layer_norm.forward(encoder.forward(embeddings.forward(ids), causal));
        var eosPositions = Config.EosTokenId == 2
            ? ids.argmax(-1) // the legacy config: the EOS token has the largest id
            : ids.eq(Config.EosTokenId).to(ScalarType.Int32).argmax(-1);
        var pooled = hidden[arange(ids.shape[0], device: weight.device), eosPositions];
        return (hidden.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope());
    }
}

public sealed class ClipTextEmbeddings : nn.Module<Tensor, Tensor>
{
    public readonly Embedding token_embedding;
    public readonly Embedding position_embedding;

    public ClipTextEmbeddings(ClipTextConfig config, ModuleOptions options) : base(nameof(ClipTextEmbeddings))
    {
        token_embedding = new Embedding(config.VocabSize, config.HiddenSize, options);
        position_embedding = new Embedding(config.MaxPositionEmbeddings, config.HiddenSize, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        using var tokens = token_embedding.forward(ids);
        using var positions = position_embedding.weight.narrow(0, 0, ids.shape[1]);
        return tokens + positions;
    }
}

public sealed class ClipEncoder : nn.Module
{
    public readonly TorchSharp.Modules.ModuleList<EncoderLayer> layers;

    public ClipEncoder(ClipTextConfig config, ModuleOptions options) : base(nameof(ClipEncoder))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ =>
            new EncoderLayer(config.HiddenSize, config.IntermediateSize, config.NumAttentionHeads, config.LayerNormEps, config.HiddenAct, options)).ToArray());
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor mask)
    {
        using var scope = NewDisposeScope();
        foreach (var layer in layers) x = layer.forward(x, mask);
        return x.MoveToOuterDisposeScope();
    }
}
