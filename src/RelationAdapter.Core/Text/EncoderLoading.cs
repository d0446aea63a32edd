using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Vision;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Text;

/// <summary>Loads the encoders from the Hugging Face layouts users have.</summary>
public static class EncoderLoading
{
    /// <summary>A SiglipModel (or SiglipVisionModel) folder: only "vision_model.*" is read; the text tower is never touched.</summary>
    public static SiglipVisionModel LoadSiglipVision(string dir, ModuleOptions options) =>
        Load(new SiglipVisionModel(SiglipVisionConfig.Read(Path.Combine(dir, "config.json")), options), dir,
            (model, weights) => StateDictLoader.Load(model, weights, "vision_model."));

    /// <summary>A CLIPTextModel folder (<c>text_encoder/</c>).</summary>
    public static ClipTextModel LoadClipText(string dir, ModuleOptions options) =>
        Load(new ClipTextModel(DiffusersConfig.Read<ClipTextConfig>(Path.Combine(dir, "config.json")), options), dir,
            (model, weights) => StateDictLoader.Load(model, weights, "text_model.",
                ignoreUnused: key => key == "text_model.embeddings.position_ids"));

    /// <summary>
    /// A T5EncoderModel folder (<c>text_encoder_2/</c>, sharded). The embedding is stored as "shared.weight",
    /// often also as "encoder.embed_tokens.weight" (the same tensor); either is accepted.
    /// </summary>
    public static T5Encoder LoadT5(string dir, ModuleOptions options) =>
        Load(new T5Encoder(DiffusersConfig.Read<T5Config>(Path.Combine(dir, "config.json")), options), dir, (model, weights) =>
        {
            StateDictLoader.Load(model.encoder, weights, "encoder.", ignoreUnused: key => key == "encoder.embed_tokens.weight");
            var embedding = weights.Contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
            using var _ = no_grad();
            weights.CopyInto(embedding, model.shared.weight);
        });

    static T Load<T>(T model, string dir, Action<T, ITensorSource> load) where T : nn.Module
    {
        try
        {
            using var weights = ShardedCheckpoint.Open(dir);
            load(model, weights);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
