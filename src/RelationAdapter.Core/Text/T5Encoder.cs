using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Text;

/// <summary>
/// The T5 v1.1 encoder as FLUX calls it: no attention mask (padding is attended), RMSNorm without mean,
/// unscaled attention scores plus a relative position bias computed by block 0 and shared by every
/// block, gated-GELU feed-forward, pre-norm residuals and a final RMSNorm.
/// </summary>
public sealed class T5Encoder : nn.Module
{
    public readonly Embedding shared;
    public readonly T5Stack encoder;

    public T5Config Config { get; }

    public T5Encoder(T5Config config, ModuleOptions options) : base(nameof(T5Encoder))
    {
        Config = config;
        shared = new Embedding(config.VocabSize, config.DModel, options);
        encoder = new T5Stack(config, options);
        RegisterComponents();
    }

    /// <param name="inputIds">[B, L] → last hidden state [B, L, d_model].</param>
    public Tensor forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = inputIds.to(ScalarType.Int64, shared.weight.device);
        return encoder.forward(shared.forward(ids)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same on <paramref name="placement"/>'s device. When the encoder is offloaded, its blocks visit the
    /// device one at a time (T5-XXL is 9.5 GB in bf16, a block 0.4 GB), so encoding a prompt never needs room
    /// for the whole encoder beside the DiT; the token embedding is looked up where it lives.
    /// </summary>
    public Tensor forward(Tensor inputIds, ComputePlacement placement)
    {
        if (!placement.OffloadAfterUse) return placement.Use(this, () => forward(inputIds));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = inputIds.to(ScalarType.Int64, shared.weight.device);
        var embedded = shared.forward(ids).to(placement.Device);
        return encoder.forward(embedded, placement).MoveToOuterDisposeScope();
    }
}

public sealed class T5Stack : nn.Module<Tensor, Tensor>
{
    public readonly TorchSharp.Modules.ModuleList<T5Block> block;
    public readonly RmsNorm final_layer_norm;

    public T5Stack(T5Config config, ModuleOptions options) : base(nameof(T5Stack))
    {
        block = nn.ModuleList(Enumerable.Range(0, config.NumLayers).Select(i => new T5Block(config, i == 0, options)).ToArray());
        final_layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var length = x.shape[1];
        var positionBias = block[0].Attention.SelfAttention.PositionBias(length, x.device);
        foreach (var b in block) x = b.forward(x, positionBias);
        return final_layer_norm.forward(x).MoveToOuterDisposeScope();
    }

    /// <summary><see cref="forward(Tensor)"/> with each block (and the final norm) visiting the placement's device in turn.</summary>
    public Tensor forward(Tensor x, ComputePlacement placement)
    {
        using var scope = NewDisposeScope();
        var length = x.shape[1];
        Tensor? positionBias = null;
        foreach (var b in block)
            x = placement.Use(b, () =>
            {
                positionBias ??= b.Attention.SelfAttention.PositionBias(length, x.device);
                return b.forward(x, positionBias);
            });
        return placement.Use(final_layer_norm, () => final_layer_norm.forward(x)).MoveToOuterDisposeScope();
    }
}

public sealed class T5Block : nn.Module
{
    public readonly TorchSharp.Modules.ModuleList<nn.Module> layer;

    public T5Block(T5Config config, bool hasRelativeBias, ModuleOptions options) : base(nameof(T5Block))
    {
        layer = nn.ModuleList<nn.Module>(new T5SelfAttentionLayer(config, hasRelativeBias, options), new T5FeedForwardLayer(config, options));
        RegisterComponents();
    }

    public T5SelfAttentionLayer Attention => (T5SelfAttentionLayer)layer[0];
    public T5FeedForwardLayer FeedForward => (T5FeedForwardLayer)layer[1];

    public Tensor forward(Tensor x, Tensor positionBias)
    {
        using var scope = NewDisposeScope();
        x = Attention.forward(x, positionBias);
        x = FeedForward.forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

public sealed class T5SelfAttentionLayer : nn.Module
{
    public readonly T5Attention SelfAttention;
    public readonly RmsNorm layer_norm;

    public T5SelfAttentionLayer(T5Config config, bool hasRelativeBias, ModuleOptions options) : base(nameof(T5SelfAttentionLayer))
    {
        SelfAttention = new T5Attention(config, hasRelativeBias, options);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, options);
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor positionBias)
    {
        using var normed = layer_norm.forward(x);
        using var attended = SelfAttention.forward(normed, positionBias);
        return x + attended;
    }
}

public sealed class T5FeedForwardLayer : nn.Module<Tensor, Tensor>
{
    public readonly T5GatedFeedForward DenseReluDense;
    public readonly RmsNorm layer_norm;

    public T5FeedForwardLayer(T5Config config, ModuleOptions options) : base(nameof(T5FeedForwardLayer))
    {
        DenseReluDense = new T5GatedFeedForward(config, options);
        layer_norm = new RmsNorm(config.DModel, config.LayerNormEpsilon, options);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var normed = layer_norm.forward(x);
        using var transformed = DenseReluDense.forward(normed);
        return x + transformed;
    }
}

/// <summary>wo(act(wi_0 x) · wi_1 x).</summary>
public sealed class T5GatedFeedForward : nn.Module<Tensor, Tensor>
{
    public readonly Linear wi_0, wi_1, wo;
    readonly string _activation;

    public T5GatedFeedForward(T5Config config, ModuleOptions options) : base(nameof(T5GatedFeedForward))
    {
        wi_0 = new Linear(config.DModel, config.DFf, options, hasBias: false);
        wi_1 = new Linear(config.DModel, config.DFf, options, hasBias: false);
        wo = new Linear(config.DFf, config.DModel, options, hasBias: false);
        _activation = config.DenseActFn;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gated = Activations.ByName(_activation, wi_0.forward(x)) * wi_1.forward(x);
        return wo.forward(gated.to(wo.weight.dtype)).MoveToOuterDisposeScope();
    }
}

public sealed class T5Attention : nn.Module
{
    public readonly Linear q, k, v, o;
    public readonly Embedding? relative_attention_bias;
    readonly T5Config _config;

    public T5Attention(T5Config config, bool hasRelativeBias, ModuleOptions options) : base(nameof(T5Attention))
    {
        _config = config;
        var inner = (long)config.NumHeads * config.DKv;
        q = new Linear(config.DModel, inner, options, hasBias: false);
        k = new Linear(config.DModel, inner, options, hasBias: false);
        v = new Linear(config.DModel, inner, options, hasBias: false);
        o = new Linear(inner, config.DModel, options, hasBias: false);
        relative_attention_bias = hasRelativeBias ? new Embedding(config.RelativeAttentionNumBuckets, config.NumHeads, options) : null;
        RegisterComponents();
    }

    public Tensor forward(Tensor x, Tensor positionBias)
    {
        using var scope = NewDisposeScope();
        var (query, key, value) = (Heads(q.forward(x)), Heads(k.forward(x)), Heads(v.forward(x)));
        var scores = query.matmul(key.transpose(-1, -2)) + positionBias;
        var weights = scores.to(ScalarType.Float32).softmax(-1).to(scores.dtype);
        var attended = weights.matmul(value).transpose(1, 2).flatten(2);
        return o.forward(attended).MoveToOuterDisposeScope();
    }

    Tensor Heads(Tensor x) => x.view(x.shape[0], x.shape[1], _config.NumHeads, _config.DKv).transpose(1, 2);

    /// <summary>The bidirectional relative position bias [1, heads, L, L].</summary>
    public Tensor PositionBias(long length, Device device)
    {
        var table = relative_attention_bias ?? throw new InvalidOperationException("only the first block holds the relative attention bias.");
        using var scope = NewDisposeScope();
        var positions = arange(length, dtype: ScalarType.Int64, device: device);
        var relative = positions.unsqueeze(0) - positions.unsqueeze(1); // memory − query
        var buckets = Bucket(relative, _config.RelativeAttentionNumBuckets, _config.RelativeAttentionMaxDistance);
        return table.forward(buckets).permute(2, 0, 1).unsqueeze(0).MoveToOuterDisposeScope();
    }

    static Tensor Bucket(Tensor relative, int numBuckets, int maxDistance)
    {
        var half = numBuckets / 2;
        var buckets = relative.gt(0).to(ScalarType.Int64) * half;
        var distance = relative.abs();
        var maxExact = half / 2;
        var isSmall = distance.lt(maxExact);
        var large = (distance.to(ScalarType.Float32) / maxExact).log() / Math.Log((double)maxDistance / maxExact) * (half - maxExact);
        var largeBucket = (large.to(ScalarType.Int64) + maxExact).clamp_max(half - 1);
        return buckets + where(isSmall, distance, largeBucket);
    }
}
