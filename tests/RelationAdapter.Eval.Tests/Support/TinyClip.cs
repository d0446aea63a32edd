using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Vision;
using static TorchSharp.torch;

namespace RelationAdapter.Eval.Tests.Support;

/// <summary>A small random CLIPModel folder in the real layout (both towers' keys, the integer form of the preprocessor config).</summary>
public static class TinyClip
{
    public static string Write(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), """
            {"architectures": ["CLIPModel"], "projection_dim": 16,
             "text_config": {"hidden_size": 8},
             "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 1,
                               "image_size": 32, "patch_size": 8, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}}
            """);
        File.WriteAllText(Path.Combine(directory, "preprocessor_config.json"), """
            {"crop_size": 32, "size": 32, "do_center_crop": true, "image_mean": [0.48145466, 0.4578275, 0.40821073],
             "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3}
            """);
        using var model = ModelFactory.Randomize(new ClipVisionModel(ClipVisionConfig.Read(Path.Combine(directory, "config.json")), ModuleOptions.CpuFloat32),
            new Generator(7));
        var tensors = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        tensors["text_model.final_layer_norm.weight"] = ones(8);
        tensors["logit_scale"] = tensor(2.6592f);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
        return directory;
    }
}
