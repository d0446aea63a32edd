using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Text;

/// <summary>Loads the text encoders from the Hugging Face layouts users have.</summary>
public static class EncoderLoading
{
    /// <summary>A CLIPTextModel folder (<c>text_encoder/</c>).</summary>
    public static ClipTextModel LoadClipText(string dir, ModuleOptions options) =>
        ModelLoading.FromFolder(new ClipTextModel(DiffusersConfig.Read<ClipTextConfig>(Path.Combine(dir, "config.json")), options), dir,
            (model, weights) => StateDictLoader.Load(model, weights, "text_model.",
                ignoreUnused: key => key == "text_model.embeddings.position_ids"));

    /// <summary>
    /// A T5EncoderModel folder (<c>text_encoder_2/</c>, sharded). The embedding is stored as "shared.weight",
    /// often also as "encoder.embed_tokens.weight" (the same tensor); either is accepted.
    /// </summary>
    public static T5Encoder LoadT5(string dir, ModuleOptions options) =>
        ModelLoading.FromFolder(new T5Encoder(DiffusersConfig.Read<T5Config>(Path.Combine(dir, "config.json")), options), dir, (model, weights) =>
        {
            StateDictLoader.Load(model.encoder, weights, "encoder.", ignoreUnused: key => key == "encoder.embed_tokens.weight");
            var embedding = weights.Contains("shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
            using var _ = no_grad();
            weights.CopyInto(embedding, model.shared.weight);
        });
}
