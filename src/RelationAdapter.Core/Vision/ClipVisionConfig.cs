using System.Text.Json.Nodes;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Vision;

/// <summary>The <c>vision_config</c> of a CLIPModel (with the model's <c>projection_dim</c>); defaults are transformers'.</summary>
public sealed record ClipVisionConfig
{
    public int HiddenSize { get; init; } = 768;
    public int IntermediateSize { get; init; } = 3072;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 12;
    public int NumChannels { get; init; } = 3;
    public int ImageSize { get; init; } = 224;
    public int PatchSize { get; init; } = 32;
    public int ProjectionDim { get; init; } = 512;
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;

    public int PatchesPerSide => ImageSize / PatchSize;

    /// <summary>Patches plus the class token.</summary>
    public int Positions => PatchesPerSide * PatchesPerSide + 1;

    /// <summary>A CLIPModel config (its <c>vision_config</c>) or a CLIPVisionModelWithProjection config.</summary>
    public static ClipVisionConfig Read(string configPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(configPath)) ?? throw new CheckpointFormatException(configPath, "empty config.");
        var vision = DiffusersConfig.Parse<ClipVisionConfig>((root["vision_config"] ?? root).ToJsonString());
        // CLIPModel keeps projection_dim at the top level; the vision config's copy may be absent or stale.
        return root["projection_dim"]?.GetValue<int>() is { } projection ? vision with { ProjectionDim = projection } : vision;
    }
}
