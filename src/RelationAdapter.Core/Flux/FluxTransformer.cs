using TorchSharp;
using RelationAdapter.Core.Layers;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>
/// The FLUX DiT (diffusers' FluxTransformer2DModel) with the RelationAdapter's injection in every
/// attention layer. Work that does not change between denoising steps (RoPE tables, the prompt's
/// context projection, the guidance and pooled-text embeddings, the relation keys and values) is done
/// once by <see cref="Prepare"/>; <see cref="forward"/> runs one step. Both run under the caller's grad
/// mode: inference calls them inside <c>no_grad</c>, training lets autograd record them.
/// </summary>
public sealed class FluxTransformer : nn.Module
{
    public readonly CombinedTimestepGuidanceTextProjEmbeddings time_text_embed;
    public readonly Linear context_embedder;
    public readonly Linear x_embedder;
    public readonly TorchSharp.Modules.ModuleList<DoubleStreamBlock> transformer_blocks;
    public readonly TorchSharp.Modules.ModuleList<SingleStreamBlock> single_transformer_blocks;
    public readonly AdaLayerNormContinuous norm_out;
    public readonly Linear proj_out;

    public FluxTransformerConfig Config { get; }
    public ScalarType DType { get; }
    public Device Device { get; private set; }

    /// <summary>
    /// Gradient checkpointing per block (training): while autograd records, each block keeps only its inputs and
    /// runs again in the backward pass (<see cref="GradientCheckpoint"/>). Without autograd it changes nothing.
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    public FluxTransformer(FluxTransformerConfig config, ModuleOptions options) : base(nameof(FluxTransformer))
    {
        Config = config;
        DType = options.DType;
        Device = options.Device;
        var dim = config.InnerDim;
        time_text_embed = new CombinedTimestepGuidanceTextProjEmbeddings(dim, config.PooledProjectionDim, config.GuidanceEmbeds, options);
        context_embedder = new Linear(config.JointAttentionDim, dim, options);
        x_embedder = new Linear(config.InChannels, dim, options);
        transformer_blocks = nn.ModuleList(Enumerable.Range(0, config.NumLayers)
            .Select(_ => new DoubleStreamBlock(dim, config.NumAttentionHeads, config.AttentionHeadDim, options)).ToArray());
        single_transformer_blocks = nn.ModuleList(Enumerable.Range(0, config.NumSingleLayers)
            .Select(_ => new SingleStreamBlock(dim, config.NumAttentionHeads, config.AttentionHeadDim, options)).ToArray());
        norm_out = new AdaLayerNormContinuous(dim, options);
        proj_out = new Linear(dim, config.OutChannels, options);
        RegisterComponents();
    }

    /// <summary>
    /// Quantises every linear layer of the double and single blocks (about 99% of the weights) to float8
    /// on <paramref name="device"/>, one layer at a time, then moves the rest of the model there. Loading
    /// on the CPU and quantising onto the GPU this way never holds the bf16 blocks on the GPU.
    /// </summary>
    /// <param name="prepare">Called with each layer and its name (as <c>named_modules</c> gives it) just before the layer is quantised.</param>
    /// <returns>The number of layers quantised.</returns>
    public int QuantizeToFp8(Device device, Action<string, Linear>? prepare = null)
    {
        var layers = transformer_blocks.Select((block, i) => ($"transformer_blocks.{i}.", (nn.Module)block))
            .Concat(single_transformer_blocks.Select((block, i) => ($"single_transformer_blocks.{i}.", (nn.Module)block)))
            .SelectMany(b => b.Item2.named_modules().Select(m => (Name: b.Item1 + m.name, m.module)))
            .Where(m => m.module is Linear).Select(m => (m.Name, Layer: (Linear)m.module)).ToList();
        var quantized = layers.Count(m =>
        {
            prepare?.Invoke(m.Name, m.Layer);
            return m.Layer.QuantizeToFp8(device);
        });
        this.to(device);
        Device = device;
        return quantized;
    }

    /// <summary>Builds the per-job constants the step function reads.</summary>
    /// <param name="promptEmbeds">[B, T, joint_attention_dim] T5 hidden states.</param>
    /// <param name="pooledPromptEmbeds">[B, pooled_projection_dim] CLIP pooled output.</param>
    /// <param name="guidance">[B] guidance scales (ignored when the model has no guidance embedding).</param>
    /// <param name="textIds">[T, 3]; <paramref name="imageIds"/>: [S, 3].</param>
    /// <param name="relation">Per attention layer K'/V' from <see cref="RelationAdapterModel.Project"/>, or null.</param>
    public DenoiseContext Prepare(Tensor promptEmbeds, Tensor pooledPromptEmbeds, Tensor? guidance,
        Tensor textIds, Tensor imageIds, IReadOnlyList<RelationKeysValues>? relation)
    {
        if (relation is not null && relation.Count != Config.AttentionLayerCount)
            throw new ArgumentException($"the adapter has {relation.Count} attention layers, the transformer {Config.AttentionLayerCount}.");
        using var scope = NewDisposeScope();
        var context = context_embedder.forward(promptEmbeds.to(DType, Device));
        var (guidanceEmbedding, textEmbedding) = time_text_embed.EmbedConstantParts(
            Config.GuidanceEmbeds ? guidance?.to(Device) : null, pooledPromptEmbeds.to(DType, Device), DType);
        var (cos, sin) = Rope.Tables(cat([textIds, imageIds], 0).to(Device), Config.AxesDimsRope, Precision.AtLeastFloat32(DType));
        return new DenoiseContext(context.MoveToOuterDisposeScope(), guidanceEmbedding?.MoveToOuterDisposeScope(),
            textEmbedding.MoveToOuterDisposeScope(), new Rotary(cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope()), relation);
    }

    /// <summary>One denoising step: the velocity for every image token.</summary>
    /// <param name="hiddenStates">[B, S, in_channels] packed latents (noise tokens then condition tokens).</param>
    /// <param name="timestep">[B] timesteps divided by 1000.</param>
    /// <param name="cache">The job's step cache: when the first block's residual has barely changed since the
    /// last fully computed step, the other blocks are skipped and their cached residual is added instead.</param>
    public Tensor forward(Tensor hiddenStates, Tensor timestep, DenoiseContext job, FirstBlockCache? cache = null)
    {
        using var scope = NewDisposeScope();
        var temb = time_text_embed.Combine(timestep.to(Device), job.GuidanceEmbedding, job.TextEmbedding, DType);
        using var activatedTemb = new SharedInput(nn.functional.silu(temb));
        var embedded = x_embedder.forward(hiddenStates.to(DType, Device));

        var (image, context) = DoubleBlock(0, embedded, job.Context, activatedTemb, job);
        Tensor final;
        if (cache is not null && cache.TryReuse(embedded, image) is { } reused)
        {
            final = reused;
        }
        else
        {
            final = RemainingBlocks(image, context, activatedTemb, job);
            cache?.Store(embedded, image, final);
        }
        var output = proj_out.forward(norm_out.forward(final, temb));
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Double blocks 1.. and every single block; returns the image tokens.</summary>
    Tensor RemainingBlocks(Tensor image, Tensor context, SharedInput activatedTemb, DenoiseContext job)
    {
        using var scope = NewDisposeScope();
        for (var i = 1; i < transformer_blocks.Count; i++)
        {
            using var step = NewDisposeScope();
            var (nextImage, nextContext) = DoubleBlock(i, image, context, activatedTemb, job);
            image = nextImage.MoveToOuterDisposeScope();
            context = nextContext.MoveToOuterDisposeScope();
        }

        var textLength = context.shape[1];
        var joint = cat([context, image], 1);
        for (var i = 0; i < single_transformer_blocks.Count; i++)
        {
            using var step = NewDisposeScope();
            joint = SingleBlock(i, joint, activatedTemb, job).MoveToOuterDisposeScope();
        }
        return joint.narrow(1, textLength, joint.shape[1] - textLength).MoveToOuterDisposeScope();
    }

    // A checkpointed block reads every tensor through its inputs: the recomputation in the backward pass runs
    // after the job (its RoPE tables, relation keys and values) may have been disposed by its owner.
    (Tensor Image, Tensor Context) DoubleBlock(int index, Tensor image, Tensor context, SharedInput activatedTemb, DenoiseContext job)
    {
        var block = transformer_blocks[index];
        var relation = job.RelationFor(index);
        if (!GradientCheckpointing) return block.forward(image, context, activatedTemb, job.Rope, relation);
        var outputs = GradientCheckpoint.Run(inputs =>
        {
            using var temb = new SharedInput(inputs[2]!);
            var (nextImage, nextContext) = block.forward(inputs[0]!, inputs[1]!, temb, new Rotary(inputs[3]!, inputs[4]!), Relation(inputs, 5));
            return [nextImage, nextContext];
        }, [image, context, activatedTemb.Value, job.Rope.Cos, job.Rope.Sin, .. RelationInputs(relation)]);
        return (outputs[0], outputs[1]);
    }

    Tensor SingleBlock(int index, Tensor joint, SharedInput activatedTemb, DenoiseContext job)
    {
        var block = single_transformer_blocks[index];
        var relation = job.RelationFor(transformer_blocks.Count + index);
        if (!GradientCheckpointing) return block.forward(joint, activatedTemb, job.Rope, relation);
        return GradientCheckpoint.Run(inputs =>
        {
            using var temb = new SharedInput(inputs[1]!);
            return [block.forward(inputs[0]!, temb, new Rotary(inputs[2]!, inputs[3]!), Relation(inputs, 4))];
        }, [joint, activatedTemb.Value, job.Rope.Cos, job.Rope.Sin, .. RelationInputs(relation)])[0];
    }

    static Tensor?[] RelationInputs(RelationKeysValues? relation) => [relation?.Key, relation?.Value, relation?.Scale];

    /// <summary>The relation keys, values and scale among a checkpointed block's inputs from <paramref name="first"/> on (no keys: no relation).</summary>
    static RelationKeysValues? Relation(IReadOnlyList<Tensor?> inputs, int first) =>
        inputs[first] is null ? null : new RelationKeysValues(inputs[first]!, inputs[first + 1]!, inputs[first + 2]);
}

/// <summary>Everything about a job that stays the same across its denoising steps.</summary>
public sealed class DenoiseContext(Tensor context, Tensor? guidanceEmbedding, Tensor textEmbedding, Rotary rope,
    IReadOnlyList<RelationKeysValues>? relation) : IDisposable
{
    /// <summary>context_embedder(prompt embeddings): [B, T, inner].</summary>
    public Tensor Context { get; } = context;
    public Tensor? GuidanceEmbedding { get; } = guidanceEmbedding;
    public Tensor TextEmbedding { get; } = textEmbedding;
    public Rotary Rope { get; } = rope;
    public IReadOnlyList<RelationKeysValues>? Relation { get; } = relation;

    public RelationKeysValues? RelationFor(int layer) => Relation?[layer];

    public void Dispose()
    {
        Context.Dispose();
        GuidanceEmbedding?.Dispose();
        TextEmbedding.Dispose();
        Rope.Cos.Dispose();
        Rope.Sin.Dispose();
        if (Relation is not null)
            foreach (var layer in Relation) layer.Dispose();
    }
}
