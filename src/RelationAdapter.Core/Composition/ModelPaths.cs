namespace RelationAdapter.Core.Composition;

/// <summary>Where the real weights are, in the layouts users download them.</summary>
/// <param name="FluxDirectory">FLUX.1-dev in the diffusers layout (transformer/, vae/, text_encoder/, text_encoder_2/, tokenizer/, tokenizer_2/, scheduler/).</param>
/// <param name="SiglipDirectory">google/siglip-so400m-patch14-384 (config.json, model.safetensors, preprocessor_config.json).</param>
/// <param name="AdapterPath">The RelationAdapter checkpoint (ip_adapter-100000.bin, or a flat safetensors copy).</param>
/// <param name="LoraPath">The in-context editor LoRA (pytorch_lora_weights.safetensors), fused at load.</param>
public sealed record ModelPaths(string FluxDirectory, string SiglipDirectory, string AdapterPath, string? LoraPath);
