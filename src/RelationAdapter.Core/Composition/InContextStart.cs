using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Composition;

/// <summary>
/// Where the tiny preset starts instead of plain noise: a miniature of what the paper's training starts from. FLUX.1-dev
/// is a trained denoiser whose VAE has a tight posterior and latents of about unit variance, and the in-context editor
/// already relates each target token to the source token at its cloned position. A random DiT is none of these and a
/// rank-4 LoRA cannot make it one: trained on it, edits only quieted the random velocity and stayed near the seed's
/// noise (issue 21 measured 0.7 of the untrained latent distance). From this start the DiT alone edits a source toward
/// itself (an untrained adapter's relation term moves it about), and training teaches the edit itself.
/// </summary>
public static class InContextStart
{
    /// <summary>
    /// RMSNorm weight of the copying attention's queries and keys: the same-position logit is 64, one row or column apart
    /// 49. Only RoPE's fastest pair turns them, which repeats every 2π positions: the copy is sharp on grids up to about 6
    /// tokens a side (96 px for the tiny VAE and patches), blurred beyond; the built-in model's images are meaningless anyway.
    /// </summary>
    const double CopyingSharpness = 4;

    /// <summary>How much the other blocks' modulation (their gates above all) keeps of its random draw: quiet enough not to
    /// drown the copy, loud enough for their LoRA to learn through the gates.</summary>
    const double OtherBlocksModulation = 0.3;

    /// <summary>
    /// The DiT as a denoiser that takes the source for the target: with x_embedder orthonormal and proj_out its transpose,
    /// the image tokens pass through; the first double block's attention subtracts, at each target token, the clean source
    /// token at the same position (queries and keys are constant, so RoPE alone decides, and the two tokens at a position
    /// share the weight); after the final LayerNorm the velocity points from the source to the noisy latents, with the
    /// length √2 per channel that unit-variance latents and noise give. The other blocks are kept, quieter.
    /// </summary>
    public static void Apply(FluxTransformer transformer, long seed)
    {
        var config = transformer.Config;
        var width = config.InnerDim;
        if (width < config.InChannels)
            throw new ArgumentException($"an in-context start needs a DiT at least as wide as its latent tokens ({width} < {config.InChannels}).");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var device = transformer.x_embedder.weight.device;
        var dtype = transformer.x_embedder.weight.dtype;
        using var generator = new Generator((ulong)seed ^ 0x1C5747A27UL);
        var (orthogonal, _) = linalg.qr(randn([width, width], ScalarType.Float64, generator: generator));
        var embed = orthogonal.narrow(1, 0, config.InChannels).to(dtype, device);
        transformer.x_embedder.weight.copy_(embed);
        transformer.x_embedder.bias!.zero_();
        transformer.proj_out.weight.copy_(embed.t() * Math.Sqrt(2));
        transformer.proj_out.bias!.zero_();
        transformer.norm_out.linear.weight.zero_();
        transformer.norm_out.linear.bias!.zero_();

        var copying = transformer.transformer_blocks[0];
        copying.norm1.linear.weight.zero_();
        var modulation = copying.norm1.linear.bias!.view(6, width); // shift, scale, gate of the attention, then of the MLP
        modulation.zero_();
        modulation[2].fill_(1);
        modulation[5].fill_(OtherBlocksModulation);
        var attention = copying.attn;
        var positional = PositionOnlyQuery(config).repeat(config.NumAttentionHeads).to(dtype, device);
        foreach (var projection in new[] { attention.to_q, attention.to_k })
        {
            projection.weight.zero_();
            projection.bias!.copy_(positional);
        }
        attention.norm_q.weight!.fill_(CopyingSharpness);
        attention.norm_k.weight!.fill_(CopyingSharpness);
        attention.to_v.weight.copy_(-eye(width, dtype: dtype, device: device));
        attention.to_v.bias!.zero_();
        var output = attention.to_out![0];
        output.weight.copy_(eye(width, dtype: dtype, device: device));
        output.bias!.zero_();
        // Text keys of zero: an image token's weight on the prompt is e^-(its same-position logit), nothing.
        var textKeys = attention.add_k_proj!;
        textKeys.weight.zero_();
        textKeys.bias!.zero_();

        foreach (var block in transformer.transformer_blocks.Skip(1)) block.norm1.linear.weight.mul_(OtherBlocksModulation);
        foreach (var block in transformer.single_transformer_blocks) block.norm.linear.weight.mul_(OtherBlocksModulation);
    }

    /// <summary>
    /// A head's query (and key) that only RoPE turns: ones on the fastest-turning pair of the row axis and of the column
    /// axis, so two tokens' logit is largest at equal positions and drops by cos 1 per row or column apart.
    /// </summary>
    static Tensor PositionOnlyQuery(FluxTransformerConfig config)
    {
        var axes = config.AxesDimsRope;
        var query = zeros(config.AttentionHeadDim, ScalarType.Float64);
        foreach (var start in new[] { axes[0], axes[0] + axes[1] })
            query.narrow(0, start, 2).fill_(1);
        return query;
    }

    /// <summary>A near-deterministic posterior, as a trained VAE's: log-variance −12 (σ ≈ 0.0025) whatever the image.</summary>
    public static void TightenPosterior(AutoencoderKL vae)
    {
        using var _ = no_grad();
        var moments = vae.encoder.conv_out;
        var half = moments.weight.shape[0] / 2;
        moments.weight.narrow(0, half, half).zero_();
        moments.bias!.narrow(0, half, half).fill_(-12);
    }
}
