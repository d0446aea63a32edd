using System.Globalization;
using System.Text.RegularExpressions;
using RelationAdapter.Bench;

namespace RelationAdapter.Core.Tests.Bench;

[Trait("Category", "Unit")]
public class EditBenchmarkTests
{
    static (int ExitCode, string Output) Run(params string[] args)
    {
        using var output = new StringWriter();
        var code = EditBenchmark.Run(BenchOptions.Parse(args), output);
        return (code, output.ToString());
    }

    static double Number(string output, string pattern) =>
        double.Parse(Regex.Match(output, pattern, RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);

    [Fact]
    public void Tiny_edit_prints_every_stage_the_median_step_and_memory()
    {
        var (code, output) = Run("--preset", "tiny", "--size", "48", "--steps", "3");

        Assert.Equal(0, code);
        foreach (var stage in new[] { "encode_prompt", "encode_relation", "encode_source", "denoise", "decode" })
            Assert.Matches($@"(?m)^stage {stage}\s*:\s+[0-9.]+ ms$", output);
        Assert.True(Number(output, @"^median step: ([0-9.]+) ms") > 0);
        Assert.Contains("3 steps: 3 computed, 0 reused", output);
        Assert.Matches(@"(?m)^memory after load: .*; peak during the edit: [0-9.]+ GB", output);
        Assert.DoesNotContain("relL2 vs bf16:", output);
    }

    [Fact]
    public void Fp8_with_a_cache_compares_with_the_uncached_full_precision_run()
    {
        var (code, output) = Run("--preset", "tiny", "--size", "48", "--steps", "4", "--precision", "fp8", "--cache-threshold", "100", "--batch", "2");

        Assert.Equal(0, code);
        Assert.Contains("DiT precision fp8", output);
        Assert.Contains("4 steps: 1 computed, 3 reused", output);
        Assert.Contains("4 steps: 4 computed, 0 reused", output);
        var error = Number(output, @"^relL2 vs bf16: ([0-9.E+-]+)");
        Assert.InRange(error, 1e-4, 2);
        Assert.Matches(@"(?m)^speedup: denoise [0-9.]+x", output);
    }

    [Fact]
    public void Cuda_without_a_gpu_is_refused_with_the_reason()
    {
        if (TorchSharp.torch.cuda.is_available()) return;
        var (code, output) = Run("--device", "cuda");
        Assert.Equal(2, code);
        Assert.Contains("no CUDA device", output);
    }
}

[Trait("Category", "Golden")]
public class ParityBenchmarkTests
{
    [SkippableFact]
    public void The_device_parity_check_passes_on_the_cpu_in_float32_and_bf16()
    {
        var golden = Support.GoldenSet.Resolve(".");
        var results = ParityBenchmark.Check(golden, TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float32)
            .Concat(ParityBenchmark.Check(golden, TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.BFloat16)).ToList();
        Assert.True(results.Count >= 2);
        Assert.All(results, r => Assert.True(r.Passed, $"{r.Case} {r.DType}: {r.LatentError:E2} / {r.ImageError:E2}"));
        Assert.All(results.Where(r => r.DType == TorchSharp.torch.ScalarType.Float32), r => Assert.True(r.LatentError < 1e-5));
    }
}

[Trait("Category", "Unit")]
public class BlocksBenchmarkTests
{
    [Fact]
    public void Blocks_prints_the_peer_comparable_line()
    {
        using var output = new StringWriter();
        Assert.Equal(0, BlocksBenchmark.Run(BenchOptions.Parse(["--size", "64", "--width", "64", "--heads", "2", "--text-tokens", "8",
            "--relation-tokens", "8", "--context-dim", "32", "--iterations", "1", "--precision", "fp8"]), output));
        Assert.Matches(@"(?m)^BLOCKS cs: double [0-9.]+ ms \(no relation [0-9.]+\), single [0-9.]+ ms", output.ToString());
    }
}

[Trait("Category", "Unit")]
public class LoadBenchmarkTests
{
    [Theory]
    [InlineData("bf16")]
    [InlineData("fp8")]
    public void Tiny_weights_written_in_the_real_layouts_load_through_the_service_loader_and_edit(string precision)
    {
        var dir = Path.Combine(Path.GetTempPath(), "ra-load-test-" + Guid.NewGuid().ToString("N"));
        using var output = new StringWriter();
        Assert.Equal(0, LoadBenchmark.Run(BenchOptions.Parse(["--preset", "tiny", "--dir", dir, "--precision", precision]), output));
        var text = output.ToString();
        Assert.Contains("full-scale load (FLUX.1-dev + RelationAdapter (ip_adapter-100000.bin)", text);
        Assert.Matches(@"full-scale load: peak host RSS [0-9.]+ GB", text);
        Assert.Contains("edit with the loaded weights: 48x48, 2 steps", text);
        if (precision == "fp8") Assert.Contains("DiT blocks in float8", text);
        Assert.False(Directory.Exists(dir), "the written weights are removed unless --keep true");
    }

    [Fact]
    public void The_adapter_bin_round_trips_through_the_torch_zip_reader()
    {
        var path = Path.GetTempFileName();
        try
        {
            CheckpointWriters.WriteTorchZip(path, new Dictionary<string, IReadOnlyList<TensorSpec>>
            {
                ["image_proj"] = [new("proj.0.weight", TorchSharp.torch.ScalarType.BFloat16, [6, 4]), new("norm.bias", TorchSharp.torch.ScalarType.Float32, [5])],
                ["ip_adapter"] = [new("0.to_k_ip.weight", TorchSharp.torch.ScalarType.BFloat16, [3, 5])],
            });
            using var checkpoint = RelationAdapter.Core.Weights.TorchZipCheckpoint.Open(path);
            Assert.Equal(["image_proj.norm.bias", "image_proj.proj.0.weight", "ip_adapter.0.to_k_ip.weight"], checkpoint.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(new long[] { 6, 4 }, checkpoint.Describe("image_proj.proj.0.weight").Shape);
            using var bias = checkpoint.Read("image_proj.norm.bias");
            Assert.Equal(TorchSharp.torch.ScalarType.Float32, bias.dtype);
            Assert.InRange(bias.abs().max().item<float>(), 1e-6f, 1f);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
