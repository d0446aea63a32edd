using RelationAdapter.Core.Vae;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Composition;

/// <param name="Device">Where the DiT, VAE and (unless offloaded) encoders live.</param>
/// <param name="DType">Compute dtype of the DiT and encoders (bf16 on CUDA, float32 on the CPU).</param>
/// <param name="OffloadEncoders">Move SigLIP, CLIP and T5 back to the CPU after each use.</param>
/// <param name="PromptCacheCapacity">Prompts whose embeddings are kept (0: none).</param>
/// <param name="Precision">The DiT blocks' weights: <see cref="DitPrecision.Native"/> (DType) or float8.</param>
public sealed record RuntimeOptions(Device Device, ScalarType DType, bool OffloadEncoders = false, VaeTiling? Tiling = null, int PromptCacheCapacity = 64,
    DitPrecision Precision = DitPrecision.Native)
{
    public static RuntimeOptions Cpu { get; } = new(CPU, ScalarType.Float32);

    /// <summary>"cpu", "cuda" or "auto" (CUDA when available).</summary>
    public static RuntimeOptions ForDevice(string device, bool offloadEncoders = false, VaeTiling? tiling = null, int promptCacheCapacity = 64,
        DitPrecision precision = DitPrecision.Native)
    {
        var useCuda = device.ToLowerInvariant() switch
        {
            "cpu" => false,
            "cuda" => cuda.is_available() ? true : throw new InvalidOperationException("Model:Device is 'cuda' but no CUDA device is available."),
            "auto" => cuda.is_available(),
            _ => throw new ArgumentException($"unknown device '{device}': use cpu, cuda or auto."),
        };
        return useCuda
            ? new RuntimeOptions(CUDA, ScalarType.BFloat16, offloadEncoders, tiling, promptCacheCapacity, precision)
            : new RuntimeOptions(CPU, ScalarType.Float32, false, tiling, promptCacheCapacity, precision);
    }

    /// <summary>"bf16" (the compute dtype: bf16 on CUDA, float32 on the CPU) or "fp8".</summary>
    public static DitPrecision ParsePrecision(string precision) => precision.ToLowerInvariant() switch
    {
        "bf16" => DitPrecision.Native,
        "fp8" => DitPrecision.Fp8,
        _ => throw new ArgumentException($"unknown precision '{precision}': use bf16 or fp8."),
    };
}

/// <summary>How the DiT blocks hold their linear weights.</summary>
public enum DitPrecision
{
    /// <summary>In the compute dtype (bf16 on CUDA: 23.8 GB for FLUX.1-dev).</summary>
    Native,
    /// <summary>float8_e4m3fn with a scale per output channel (about half the memory); activations quantised per row.</summary>
    Fp8,
}
