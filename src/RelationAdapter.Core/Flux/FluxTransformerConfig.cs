namespace RelationAdapter.Core.Flux;

/// <summary><c>transformer/config.json</c> of a FLUX diffusers directory; defaults are FLUX.1-dev's.</summary>
public sealed record FluxTransformerConfig
{
    public int PatchSize { get; init; } = 1;
    public int InChannels { get; init; } = 64;
    public int NumLayers { get; init; } = 19;
    public int NumSingleLayers { get; init; } = 38;
    public int AttentionHeadDim { get; init; } = 128;
    public int NumAttentionHeads { get; init; } = 24;
    public int JointAttentionDim { get; init; } = 4096;
    public int PooledProjectionDim { get; init; } = 768;
    public bool GuidanceEmbeds { get; init; } = true;
    public int[] AxesDimsRope { get; init; } = [16, 56, 56];

    public int InnerDim => NumAttentionHeads * AttentionHeadDim;
    public int OutChannels => PatchSize * PatchSize * InChannels;
    public int AttentionLayerCount => NumLayers + NumSingleLayers;
}
