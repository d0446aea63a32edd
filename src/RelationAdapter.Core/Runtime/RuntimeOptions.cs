using RelationAdapter.Core.Vae;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Runtime;

/// <param name="Device">Where the DiT, VAE and (unless offloaded) encoders live.</param>
/// <param name="DType">Compute dtype of the DiT and encoders (bf16 on CUDA, float32 on the CPU).</param>
/// <param name="OffloadEncoders">Move SigLIP, CLIP and T5 back to the CPU after each use.</param>
/// <param name="PromptCacheCapacity">Prompts whose embeddings are kept (0: none).</param>
public sealed record RuntimeOptions(Device Device, ScalarType DType, bool OffloadEncoders = false, VaeTiling? Tiling = null, int PromptCacheCapacity = 64)
{
    public static RuntimeOptions Cpu { get; } = new(CPU, ScalarType.Float32);

    /// <summary>"cpu", "cuda" or "auto" (CUDA when available).</summary>
    public static RuntimeOptions ForDevice(string device, bool offloadEncoders = false, VaeTiling? tiling = null, int promptCacheCapacity = 64)
    {
        var useCuda = device.ToLowerInvariant() switch
        {
            "cpu" => false,
            "cuda" => cuda.is_available() ? true : throw new InvalidOperationException("Model:Device is 'cuda' but no CUDA device is available."),
            "auto" => cuda.is_available(),
            _ => throw new ArgumentException($"unknown device '{device}': use cpu, cuda or auto."),
        };
        return useCuda
            ? new RuntimeOptions(CUDA, ScalarType.BFloat16, offloadEncoders, tiling, promptCacheCapacity)
            : new RuntimeOptions(CPU, ScalarType.Float32, false, tiling, promptCacheCapacity);
    }
}
