using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Vision;

/// <summary>Loads the vision encoder from the Hugging Face layout users have.</summary>
public static class VisionLoading
{
    /// <summary>A SiglipModel (or SiglipVisionModel) folder: only "vision_model.*" is read; the text tower is never touched.</summary>
    public static SiglipVisionModel LoadSiglipVision(string dir, ModuleOptions options) =>
        ModelLoading.FromFolder(new SiglipVisionModel(SiglipVisionConfig.Read(Path.Combine(dir, "config.json")), options), dir,
            (model, weights) => StateDictLoader.Load(model, weights, "vision_model."));

    /// <summary>
    /// A CLIPModel folder (e.g. openai/clip-vit-large-patch14): "vision_model.*" and "visual_projection.weight" are
    /// read; the text tower, its projection and logit_scale are never touched.
    /// </summary>
    public static ClipVisionModel LoadClipVision(string dir, ModuleOptions options) =>
        ModelLoading.FromFolder(new ClipVisionModel(ClipVisionConfig.Read(Path.Combine(dir, "config.json")), options), dir,
            (model, weights) => StateDictLoader.Load(model, weights, ignoreUnused: key =>
                !key.StartsWith("vision_model.", StringComparison.Ordinal) && key != "visual_projection.weight"
                || key == "vision_model.embeddings.position_ids"));
}
