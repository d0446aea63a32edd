using RelationAdapter.Bench;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Gpu;

/// <summary>
/// Checks that need a CUDA device: outside the default test command (<c>--filter "Category!=Gpu"</c>), run with
/// <c>--filter Category=Gpu</c> where a GPU and the SDK meet, and failing with the reason without CUDA. The device
/// machines have no .NET SDK, so bench/gpu-run.sh runs the same checks there through
/// <c>RelationAdapter.Bench parity</c> and <c>edit</c>.
/// </summary>
[Trait("Category", "Gpu")]
public class GpuTests
{
    static void RequireCuda() =>
        Assert.True(cuda.is_available(), "No CUDA device is available to libtorch (CPU build or no GPU): the Gpu category needs one.");

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Golden_pipeline_cases_match_on_cuda(ScalarType dtype)
    {
        RequireCuda();
        var golden = GoldenSet.Resolve(".");
        var results = ParityBenchmark.Check(golden, CUDA, dtype);
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.True(r.Passed,
            $"{r.Case} in {r.DType}: latents {r.LatentError:E2} (bound {r.LatentBound:E1}), image {r.ImageError:E2} (bound {r.ImageBound:E1})"));
    }

    [Fact]
    public void Fp8_linear_with_row_wise_scaling_stays_close_to_bf16_on_cuda()
    {
        RequireCuda();
        using var scope = NewDisposeScope();
        using var linear = ModelFactory.RandomizeByName(new Linear(256, 128, new ModuleOptions(CUDA, ScalarType.BFloat16)), 5);
        var input = randn([4, 33, 256], ScalarType.BFloat16, CUDA);
        var exact = linear.forward(input);
        linear.QuantizeToFp8(CUDA);
        var quantized = linear.forward(input);
        Assert.Equal(ScalarType.BFloat16, quantized.dtype);
        Assert.InRange(Close.RelativeL2(quantized, exact), 1e-3, 0.06);
    }

    [Fact]
    public void Tiny_edit_benchmark_runs_on_cuda_and_reports_device_memory()
    {
        RequireCuda();
        using var output = new StringWriter();
        Assert.Equal(0, EditBenchmark.Run(BenchOptions.Parse(["--device", "cuda", "--preset", "tiny", "--size", "64", "--steps", "3", "--precision", "fp8"]), output));
        Assert.Contains("relL2 vs bf16:", output.ToString());
        Assert.Contains("NVML", output.ToString());
    }
}
