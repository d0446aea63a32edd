using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Service.Platform;

/// <summary>Which model the worker loads ("Model" section).</summary>
public sealed class ModelOptions : IValidatableObject
{
    public const string Section = "Model";
    public const string TinyPreset = "tiny", Flux1DevPreset = "flux1-dev";

    /// <summary>"tiny": a built-in random model (no downloads, meaningless images); "flux1-dev": the real weights below.</summary>
    [Required, RegularExpression("^(tiny|flux1-dev)$")]
    public string Preset { get; set; } = TinyPreset;

    /// <summary>cpu, cuda or auto.</summary>
    [Required, RegularExpression("^(cpu|cuda|auto)$")]
    public string Device { get; set; } = "cpu";

    /// <summary>FLUX.1-dev in the diffusers layout (black-forest-labs/FLUX.1-dev).</summary>
    public string? FluxDirectory { get; set; }

    /// <summary>google/siglip-so400m-patch14-384.</summary>
    public string? SiglipDirectory { get; set; }

    /// <summary>
    /// The RelationAdapter checkpoint, ip_adapter-100000.bin (or a .safetensors copy). With the tiny preset, optional:
    /// trained weights of the tiny sizes (the training tool's adapter.safetensors) loaded over the random adapter.
    /// </summary>
    public string? AdapterPath { get; set; }

    /// <summary>
    /// Bump it when the adapter checkpoint changes under the same file name: relation ids (and so cached
    /// relations, shared by every replica) derive from the file name and this revision.
    /// </summary>
    public string AdapterRevision { get; set; } = "1";

    /// <summary>The in-context editor LoRA, pytorch_lora_weights.safetensors (optional; with the tiny preset, one of the tiny sizes).</summary>
    public string? LoraPath { get; set; }

    /// <summary>Move SigLIP, CLIP and T5 to the CPU after each use (saves about 10 GB of GPU memory).</summary>
    public bool OffloadEncoders { get; set; }

    /// <summary>The DiT blocks' weights: bf16 (default; float32 on the CPU) or fp8 (float8_e4m3fn with a scale per
    /// output channel: about 12 GB instead of 23.8 for FLUX.1-dev, slightly different images).</summary>
    [Required, RegularExpression("^(bf16|fp8)$")]
    public string Precision { get; set; } = "bf16";

    /// <summary>Decode in overlapping tiles to bound the VAE's activation memory (changes pixels slightly).</summary>
    public bool VaeTiling { get; set; }

    [Range(0, 10_000)]
    public int PromptCacheCapacity { get; set; } = 64;

    public long TinySeed { get; set; } = 1234;

    public bool IsTiny => Preset == TinyPreset;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (IsTiny) yield break;
        foreach (var (value, name) in new[] { (FluxDirectory, nameof(FluxDirectory)), (SiglipDirectory, nameof(SiglipDirectory)), (AdapterPath, nameof(AdapterPath)) })
            if (string.IsNullOrWhiteSpace(value))
                yield return new ValidationResult($"Model:{name} is required for the {Flux1DevPreset} preset.", [name]);
    }
}
