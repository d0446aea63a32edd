namespace RelationAdapter.Core.Text;

/// <summary><c>text_encoder_2/config.json</c> (transformers T5Config); defaults are T5 v1.1 XXL's encoder.</summary>
public sealed record T5Config
{
    public int VocabSize { get; init; } = 32128;
    public int DModel { get; init; } = 4096;
    public int DKv { get; init; } = 64;
    public int DFf { get; init; } = 10240;
    public int NumHeads { get; init; } = 64;
    public int NumLayers { get; init; } = 24;
    public int RelativeAttentionNumBuckets { get; init; } = 32;
    public int RelativeAttentionMaxDistance { get; init; } = 128;
    public double LayerNormEpsilon { get; init; } = 1e-6;
    public string DenseActFn { get; init; } = "gelu_new";
}
