namespace RelationAdapter.Core.Vae;

/// <summary><c>vae/config.json</c> (diffusers AutoencoderKL); defaults are FLUX.1-dev's.</summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];
    public int LayersPerBlock { get; init; } = 2;
    public int LatentChannels { get; init; } = 16;
    public int NormNumGroups { get; init; } = 32;
    public int SampleSize { get; init; } = 1024;
    public double ScalingFactor { get; init; } = 0.3611;
    public double ShiftFactor { get; init; } = 0.1159;
    public bool UseQuantConv { get; init; }
    public bool UsePostQuantConv { get; init; }
    public bool MidBlockAddAttention { get; init; } = true;

    /// <summary>Pixels per latent cell: 2^(blocks − 1) (8 for FLUX).</summary>
    public int ScaleFactor => 1 << (BlockOutChannels.Length - 1);
}
