using static TorchSharp.torch;

namespace RelationAdapter.Core.Layers;

/// <summary>Which dtype the precision-sensitive parts (norm statistics, RoPE, timestep sinusoids) compute in.</summary>
public static class Precision
{
    /// <summary>
    /// float32 for float32 and half-precision models, as the reference does; float64 for a float64 model, so a
    /// gradient check against finite differences is not limited by float32 rounding inside the model.
    /// </summary>
    public static ScalarType AtLeastFloat32(ScalarType dtype) => dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
