using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Text;
using RelationAdapter.Core.Vae;
using RelationAdapter.Core.Vision;

namespace RelationAdapter.Core.Composition;

/// <summary>The sizes of every component of a randomly initialised model (<see cref="ModelFactory.CreateRandom"/>).</summary>
public sealed record RandomModelSizes(string Name, FluxTransformerConfig Transformer, RelationAdapterConfig Adapter, VaeConfig Vae,
    ClipTextConfig Clip, T5Config T5, SiglipVisionConfig Siglip)
{
    /// <summary>
    /// The service's built-in preset: every component, at most a few hundred thousand parameters each. Its DiT is as
    /// wide as its latent tokens (64), like FLUX's (3072 for 64), and it starts in context (<see cref="InContextStart"/>);
    /// the VAE's scaling factor gives its latents about unit variance, as FLUX's 0.3611 does for FLUX's VAE.
    /// </summary>
    public static RandomModelSizes Tiny { get; } = Create("tiny", new FluxTransformerConfig
        {
            NumLayers = 2, NumSingleLayers = 2, AttentionHeadDim = 16, NumAttentionHeads = 4,
            JointAttentionDim = 48, PooledProjectionDim = 24, AxesDimsRope = [4, 6, 6],
        },
        adapterImageDim: 32, tokensPerImage: 4,
        new VaeConfig { BlockOutChannels = [8, 8, 16, 16], NormNumGroups = 4, SampleSize = 64, ScalingFactor = 1.8 },
        new ClipTextConfig { VocabSize = 1000, HiddenSize = 24, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4 },
        new T5Config { VocabSize = 1000, DModel = 48, DKv = 12, DFf = 96, NumHeads = 4, NumLayers = 2 },
        new SiglipVisionConfig { HiddenSize = 32, IntermediateSize = 80, NumHiddenLayers = 2, NumAttentionHeads = 4, ImageSize = 56, PatchSize = 14 })
        with { StartsInContext = true, Revision = 2 };

    /// <summary>Whether the DiT and VAE start as <see cref="InContextStart"/> sets them, not as drawn.</summary>
    public bool StartsInContext { get; init; }

    /// <summary>Changes whenever the preset's weights for a seed change, so what names them (relation ids, eval runs) changes too.</summary>
    public int Revision { get; init; } = 1;

    /// <summary>FLUX.1-dev, SigLIP-SO400M, CLIP ViT-L/14 text, T5 v1.1 XXL and the released adapter's shapes.</summary>
    public static RandomModelSizes Flux1Dev { get; } = new("flux1-dev", new FluxTransformerConfig(), RelationAdapterConfig.Flux1Dev, new VaeConfig(),
        new ClipTextConfig(), new T5Config(), SiglipVisionConfig.So400mPatch14x384);

    /// <summary>The preset of that name: "tiny" or "flux1-dev".</summary>
    public static RandomModelSizes Named(string name) => name switch
    {
        "tiny" => Tiny,
        "flux1-dev" => Flux1Dev,
        _ => throw new ArgumentException($"unknown preset '{name}': use tiny or flux1-dev."),
    };

    static RandomModelSizes Create(string name, FluxTransformerConfig transformer, long adapterImageDim, long tokensPerImage, VaeConfig vae,
        ClipTextConfig clip, T5Config t5, SiglipVisionConfig siglip) =>
        new(name, transformer, new RelationAdapterConfig(adapterImageDim, transformer.JointAttentionDim, tokensPerImage, transformer.InnerDim,
            transformer.AttentionLayerCount), vae, clip, t5, siglip);
}
