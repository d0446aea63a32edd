using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Layers;

[Trait("Category", "Unit")]
public class Fp8LinearTests
{
    static Linear RandomLinear(long inFeatures, long outFeatures, ulong seed)
    {
        var linear = new Linear(inFeatures, outFeatures, ModuleOptions.CpuFloat32);
        ModelFactory.Randomize(linear, new Generator(seed));
        using (no_grad()) linear.bias!.copy_(randn([outFeatures], generator: new Generator(seed + 1)) * 0.1);
        return linear;
    }

    [Fact]
    public void Fp8_linear_matches_the_float_linear_within_the_float8_rounding()
    {
        using var scope = NewDisposeScope();
        using var linear = RandomLinear(64, 48, 1);
        var input = randn([3, 5, 64], generator: new Generator(2));
        var exact = linear.forward(input);

        Assert.True(linear.QuantizeToFp8(CPU));

        Assert.Equal(Fp8.E4M3, linear.weight.dtype);
        Assert.Equal(new long[] { 48 }, linear.weight_scale!.shape);
        Assert.Equal(1, linear.weight.ElementSize);
        var quantized = linear.forward(input);
        Assert.Equal(exact.shape, quantized.shape);
        Assert.Equal(ScalarType.Float32, quantized.dtype);
        // e4m3 keeps 3 mantissa bits (relative step 1/8, so 1/16 worst-case rounding on each factor); over a
        // 64-term dot product of random signs the errors average out to a few percent.
        var error = Close.RelativeL2(quantized, exact);
        Assert.InRange(error, 1e-3, 0.06);
    }

    [Fact]
    public void Quantised_rows_keep_each_row_within_its_own_scale()
    {
        using var scope = NewDisposeScope();
        // Rows a million times apart: a per-tensor scale would flush the small row to zero.
        var input = cat([randn([1, 32], generator: new Generator(3)) * 1e3, randn([1, 32], generator: new Generator(4)) * 1e-3], 0);
        using var rows = Fp8.Rows.Quantize(input);
        var restored = rows.Values.to(ScalarType.Float32) * rows.Scales;
        for (var row = 0; row < 2; row++)
            Assert.True(Close.RelativeL2(restored[row], input[row]) < 0.05, $"row {row}");
        Assert.True(restored.abs().max().item<float>() <= input.abs().max().item<float>() * 1.0001);
    }

    [Fact]
    public void A_shared_input_is_quantised_once_and_gives_the_same_products()
    {
        using var scope = NewDisposeScope();
        using var first = RandomLinear(32, 16, 5);
        using var second = RandomLinear(32, 48, 7);
        first.QuantizeToFp8(CPU);
        second.QuantizeToFp8(CPU);
        var input = randn([2, 4, 32], generator: new Generator(6));
        using var shared = new SharedInput(input);

        Assert.True(first.forward(shared).Same(first.forward(input)));
        Assert.True(second.forward(shared).Same(second.forward(input)));
        Assert.Same(shared.Fp8Rows, shared.Fp8Rows);
    }

    [Fact]
    public void A_zero_row_stays_zero_and_sizes_off_the_16_grid_stay_unquantised()
    {
        using var scope = NewDisposeScope();
        using var linear = RandomLinear(32, 16, 8);
        linear.QuantizeToFp8(CPU);
        var output = linear.forward(zeros(2, 32));
        Assert.False(output.isnan().any().item<bool>());
        Assert.True(output.Same(linear.bias!.expand(2, 16)));

        using var odd = RandomLinear(24, 16, 9);
        Assert.False(odd.QuantizeToFp8(CPU));
        Assert.Equal(ScalarType.Float32, odd.weight.dtype);
        Assert.False(odd.IsFp8);
    }

    [Fact]
    public void A_float8_transformer_holds_its_block_weights_in_one_byte_and_stays_close_to_float()
    {
        using var scope = NewDisposeScope();
        using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu);
        using var quantizedModels = ModelFactory.CreateTiny(RuntimeOptions.Cpu with { Precision = DitPrecision.Fp8 });
        var reference = models.Models.Transformer;
        var transformer = quantizedModels.Models.Transformer;

        var blockLinears = transformer.transformer_blocks.Cast<nn.Module>().Concat(transformer.single_transformer_blocks)
            .SelectMany(b => b.modules()).OfType<Linear>().ToList();
        Assert.NotEmpty(blockLinears);
        Assert.All(blockLinears, l => Assert.True(l.IsFp8));
        Assert.False(transformer.x_embedder.IsFp8);
        // Each quantised weight went from 4 bytes to 1 and gained a float32 scale per output channel.
        var saved = blockLinears.Sum(l => 3 * l.weight.NumberOfElements - 4 * l.OutFeatures);
        Assert.Equal(ModuleSize.Bytes(reference) - saved, ModuleSize.Bytes(transformer));

        var g = new Generator(11);
        var config = reference.Config;
        var hidden = randn([1, 8, config.InChannels], generator: g);
        var prompt = randn([1, 5, config.JointAttentionDim], generator: g);
        var pooled = randn([1, config.PooledProjectionDim], generator: g);
        var relation = randn([1, 8, config.JointAttentionDim], generator: g);
        var ids = randint(0, 4, [8, 3], generator: g).to(ScalarType.Float32);
        Tensor Step(FluxTransformer model, LoadedModels loaded)
        {
            using var job = model.Prepare(prompt, pooled, full([1], 3.5f), zeros(5, 3), ids,
                loaded.Models.Adapter.Project(relation, config.NumAttentionHeads, [1.0]));
            return model.forward(hidden, full([1], 0.7f), job);
        }

        var error = Close.RelativeL2(Step(transformer, quantizedModels), Step(reference, models));
        Assert.InRange(error, 1e-4, 0.1);
    }
}
