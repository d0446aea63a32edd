using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Layers;

/// <summary>
/// float8_e4m3fn arithmetic for linear layers: weights quantised once per output channel, activations per
/// row at every call, and the product through <c>torch._scaled_mm</c>. TorchSharp has no binding for that
/// operator, so it is reached through a one-op TorchScript function; casts to float8 stay plain tensor ops
/// (TorchScript's fuser cannot generate float8 code).
/// </summary>
public static class Fp8
{
    /// <summary>torch.float8_e4m3fn (TorchSharp's enum has no name for it).</summary>
    public const ScalarType E4M3 = (ScalarType)24;

    /// <summary>The largest finite float8_e4m3fn value.</summary>
    public const double Max = 448;

    // A zero row would give a zero scale and 0/0 = NaN; any tiny positive scale quantises it to zeros.
    const double MinScale = 1e-12;

    static readonly Lazy<jit.CompilationUnit> Script = new(() => jit.compile("""
        def scaled_mm(a: Tensor, b: Tensor, scale_a: Tensor, scale_b: Tensor, bias: Optional[Tensor], out_dtype: int) -> Tensor:
            return torch._scaled_mm(a, b, scale_a=scale_a, scale_b=scale_b, bias=bias, out_dtype=out_dtype)

        def divide_into(x: Tensor, scale: Tensor, out: Tensor) -> Tensor:
            return torch.div(x, scale, out=out)

        """));

    // Set when a backend refuses to write float8 from a division directly; the two-kernel path is used from then on.
    static volatile bool _fusedDivisionFailed;

    /// <summary>
    /// Why the GPU's row-wise scaled GEMM was refused, if it was (null otherwise): from then on every product
    /// takes one scale per tensor and applies the row and channel scales after it, correct but slower.
    /// </summary>
    public static string? RowWiseFailure { get; private set; }

    /// <summary>
    /// Per-output-channel quantisation of a weight [N, K]: scale = amax(|row|)/448 in float32, values
    /// round(w/scale) in float8. Returns the float8 weight and the scales [N].
    /// </summary>
    public static (Tensor Weight, Tensor Scale) QuantizeWeight(Tensor weight)
    {
        using var scope = NewDisposeScope();
        var exact = weight.to(ScalarType.Float32);
        var scale = (exact.abs().amax([1], keepdim: true) / Max).clamp_min(MinScale);
        var quantized = (exact / scale).to(E4M3);
        return (quantized.MoveToOuterDisposeScope(), scale.view(-1).MoveToOuterDisposeScope());
    }

    /// <summary>The float8 rows of an activation and their float32 scales.</summary>
    public sealed class Rows : IDisposable
    {
        /// <summary>[M, K] float8_e4m3fn.</summary>
        public Tensor Values { get; }
        /// <summary>[M, 1] float32.</summary>
        public Tensor Scales { get; }
        /// <summary>The activation's shape and dtype, which the product takes back.</summary>
        public long[] Shape { get; }
        public ScalarType DType { get; }

        Rows(Tensor values, Tensor scales, long[] shape, ScalarType dtype)
        {
            Values = values;
            Scales = scales;
            Shape = shape;
            DType = dtype;
        }

        /// <summary>
        /// Quantises every row of <paramref name="x"/> ([..., K]) with its own scale, computed in x's own
        /// dtype (one max-abs reduction; bf16 on the GPU) so quantising costs little next to the GEMM. The
        /// tensors are detached from dispose scopes: several layers may read them, and <see cref="Dispose"/> frees them.
        /// </summary>
        public static Rows Quantize(Tensor x)
        {
            using var scope = NewDisposeScope();
            var flat = x.reshape(-1, x.shape[^1]);
            var scale = (linalg.vector_norm(flat, double.PositiveInfinity, [-1], keepdim: true) / Max).clamp_min(MinScale);
            var values = DivideToFp8(flat, scale);
            var scales = scale.to(ScalarType.Float32);
            return new Rows(values.DetachFromDisposeScope(), scales.DetachFromDisposeScope(), x.shape, x.dtype);
        }

        public void Dispose()
        {
            Values.Dispose();
            Scales.Dispose();
        }
    }

    /// <summary>x / scale written straight into float8 (one kernel), or divide then cast where that is refused.</summary>
    static Tensor DivideToFp8(Tensor x, Tensor scale)
    {
        if (!_fusedDivisionFailed)
        {
            var output = empty(x.shape, E4M3, x.device);
            try
            {
                Script.Value.invoke("divide_into", x, scale, output);
                return output;
            }
            catch (Exception)
            {
                _fusedDivisionFailed = true;
                output.Dispose();
            }
        }
        using var divided = x / scale;
        return divided.to(E4M3);
    }

    /// <summary>
    /// y = (rows · Wᵀ) · scale_row · scale_channel + bias in the activation's dtype, shaped like the
    /// activation with K replaced by N. On CUDA the scales and bias are applied inside the GEMM (row-wise
    /// scaling); libtorch's CPU kernel only takes one scale per tensor, so there (and on a GPU that refuses row-wise
    /// scaling) they are applied after it.
    /// </summary>
    public static Tensor Linear(Rows input, Tensor weight, Tensor weightScale, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long[] shape = [.. input.Shape[..^1], weight.shape[0]];
        if (input.Values.device_type == DeviceType.CUDA && input.DType != ScalarType.Float32 && RowWiseFailure is null)
        {
            try
            {
                var fused = ScaledMm(input.Values, weight.t(), input.Scales, weightScale.view(1, -1), bias?.to(input.DType), input.DType);
                return fused.view(shape).MoveToOuterDisposeScope();
            }
            catch (Exception e)
            {
                RowWiseFailure = $"[{input.Values.shape[0]}x{input.Values.shape[1]}]·[{weight.shape[0]}x{weight.shape[1]}]ᵀ: {e.Message.Split('\n')[0]}";
            }
        }
        using var one = ones([], ScalarType.Float32, input.Values.device);
        var product = ScaledMm(input.Values, weight.t(), one, one, null, ScalarType.Float32) * input.Scales * weightScale.view(1, -1);
        if (bias is not null) product = product + bias;
        return product.to(input.DType).view(shape).MoveToOuterDisposeScope();
    }

    static Tensor ScaledMm(Tensor a, Tensor b, Tensor scaleA, Tensor scaleB, Tensor? bias, ScalarType outDType) =>
        (Tensor)Script.Value.invoke("scaled_mm", a, b, scaleA, scaleB, bias, (long)outDType);
}
