using System.Text.Json.Nodes;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Vision;

/// <summary>The <c>vision_config</c> of a SiglipModel (or a SiglipVisionModel's config); defaults are transformers'.</summary>
public sealed record SiglipVisionConfig
{
    public int HiddenSize { get; init; } = 768;
    public int IntermediateSize { get; init; } = 3072;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int NumChannels { get; init; } = 3;
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 16;
    public string HiddenAct { get; init; } = "gelu_pytorch_tanh";
    public double LayerNormEps { get; init; } = 1e-6;

    /// <summary>google/siglip-so400m-patch14-384.</summary>
    public static SiglipVisionConfig So400mPatch14x384 { get; } = new()
    {
        HiddenSize = 1152, IntermediateSize = 4304, NumHiddenLayers = 27, NumAttentionHeads = 16, ImageSize = 384, PatchSize = 14,
    };

    public int PatchesPerSide => ImageSize / PatchSize;

    public static SiglipVisionConfig Read(string configPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(configPath)) ?? throw new CheckpointFormatException(configPath, "empty config.");
        var vision = root["vision_config"] ?? root;
        return DiffusersConfig.Parse<SiglipVisionConfig>(vision.ToJsonString());
    }
}
