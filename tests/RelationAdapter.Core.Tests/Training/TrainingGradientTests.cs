using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Training;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Training;

[Trait("Category", "Training")]
public class TrainingGradientTests
{
    static readonly FluxTransformerConfig Config = RandomModelSizes.Tiny.Transformer;
    static readonly RelationAdapterConfig AdapterConfig = RandomModelSizes.Tiny.Adapter;

    static (FluxTransformer Transformer, RelationAdapterModel Adapter, TransformerLora Lora) TinyModel(ScalarType dtype)
    {
        var options = new ModuleOptions(CPU, dtype);
        var transformer = ModelFactory.Randomize(new FluxTransformer(Config, options), new Generator(11));
        var adapter = ModelFactory.Randomize(new RelationAdapterModel(AdapterConfig, options), new Generator(12));
        var lora = new TransformerLora(transformer, rank: 2, alpha: 3, new Generator(13));
        // B starts at 0 in training; a random B makes A's gradient non-zero and the fused weights differ from the base.
        using (no_grad())
            foreach (var (_, branch) in lora.Branches) branch.lora_B.normal_(0, 0.2, new Generator(14));
        foreach (var (_, parameter) in adapter.named_parameters()) parameter.requires_grad = true;
        return (transformer, adapter, lora);
    }

    static EncodedExample RandomExample(ScalarType dtype)
    {
        using var generator = new Generator(21);
        Tensor Draw(params long[] shape) => randn(shape, dtype: dtype, generator: generator);
        const long tokens = 4;
        return new EncodedExample("random", Draw(1, 5, Config.JointAttentionDim), Draw(1, Config.PooledProjectionDim), Draw(2, AdapterConfig.ImageDim),
            Draw(1, tokens, Config.InChannels), Draw(1, tokens, Config.InChannels).abs() * 0.1, Draw(1, tokens, Config.InChannels),
            Draw(1, tokens, Config.InChannels).abs() * 0.1, latentHeight: 4, latentWidth: 4);
    }

    /// <summary>The tiny model in float64 with its LoRA, a random example and the objective over them.</summary>
    sealed record Float64Objective(FluxTransformer Transformer, RelationAdapterModel Adapter, TransformerLora Lora, EncodedExample Example,
        FlowMatchingObjective Objective) : IDisposable
    {
        public static Float64Objective Create()
        {
            var (transformer, adapter, lora) = TinyModel(ScalarType.Float64);
            return new(transformer, adapter, lora, RandomExample(ScalarType.Float64),
                new FlowMatchingObjective(transformer, adapter, guidance: 3.5, TimestepSampling.LogitNormal));
        }

        public void Dispose()
        {
            Example.Dispose();
            Lora.Dispose();
            Adapter.Dispose();
            Transformer.Dispose();
        }
    }

    [Fact]
    public void Gradients_of_every_trainable_kind_agree_with_finite_differences_in_float64()
    {
        using var setup = Float64Objective.Create();
        var (transformer, adapter, lora, example, objective) = setup;
        double Loss()
        {
            using var generator = new Generator(99);
            using var loss = objective.Loss(example, generator);
            return loss.item<double>();
        }
        using (var generator = new Generator(99))
        using (var loss = objective.Loss(example, generator))
            loss.backward();

        var parameters = adapter.named_parameters().Select(p => (p.name, p.parameter))
            .Concat(lora.NamedParameters().Select(p => (p.Name, p.Parameter))).ToDictionary(p => p.Item1, p => p.Item2);
        string[] checkedNames =
        [
            "image_proj.proj.0.weight", "image_proj.proj.0.bias", "image_proj.proj.2.weight", "image_proj.norm.weight", "image_proj.norm.bias",
            "ip_adapter.0.to_k_ip.weight", "ip_adapter.1.to_v_ip.weight", "ip_adapter.3.to_k_ip.weight", "ip_adapter.3.to_v_ip.weight",
            "transformer.transformer_blocks.0.attn.to_q.lora_A.weight", "transformer.transformer_blocks.0.attn.to_out.0.lora_B.weight",
            "transformer.transformer_blocks.1.attn.add_v_proj.lora_A.weight", "transformer.transformer_blocks.1.attn.to_add_out.lora_B.weight",
            "transformer.transformer_blocks.0.ff.net.2.lora_A.weight", "transformer.transformer_blocks.1.ff_context.net.0.proj.lora_B.weight",
            "transformer.single_transformer_blocks.0.proj_mlp.lora_A.weight", "transformer.single_transformer_blocks.1.proj_out.lora_B.weight",
            "transformer.single_transformer_blocks.1.attn.to_k.lora_A.weight",
        ];
        var pick = new Random(5);
        const double h = 1e-5;
        var compared = 0;
        foreach (var name in checkedNames)
        {
            var parameter = parameters[name];
            using var gradient = parameter.grad ?? throw new Xunit.Sdk.XunitException($"{name} has no gradient.");
            using var flatGradient = gradient.reshape(-1);
            for (var k = 0; k < 3; k++)
            {
                var index = pick.NextInt64(parameter.NumberOfElements);
                var analytic = flatGradient[index].item<double>();
                double At(double offset)
                {
                    using (no_grad())
                    using (var flat = parameter.view(-1))
                        flat[index] = flat[index].item<double>() + offset;
                    return Loss();
                }
                var plus = At(h);
                var minus = At(-2 * h);
                At(h);
                var numeric = (plus - minus) / (2 * h);
                Assert.True(Math.Abs(analytic - numeric) <= 1e-6 * Math.Max(1, Math.Abs(numeric)),
                    $"{name}[{index}]: autograd {analytic:R}, finite difference {numeric:R}");
                compared++;
            }
        }
        Assert.Equal(3 * checkedNames.Length, compared);
        // The frozen DiT gets no gradient at all.
        Assert.All(transformer.named_parameters(), p => Assert.Null(p.parameter.grad));
    }

    [Fact]
    public void The_unfused_LoRA_forward_equals_the_forward_with_its_saved_file_fused()
    {
        var (transformer, adapter, lora) = TinyModel(ScalarType.Float32);
        using var _t = transformer;
        using var _a = adapter;
        using var _l = lora;
        using var temp = new TempFolder();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var generator = new Generator(31);
        var hidden = randn([1, 8, Config.InChannels], generator: generator);
        Tensor Forward()
        {
            var relation = adapter.Project(adapter.RelationTokens(randn([AdapterConfig.ImageDim], generator: new Generator(1)), randn([AdapterConfig.ImageDim], generator: new Generator(2))),
                Config.NumAttentionHeads, [1.0]);
            using var job = transformer.Prepare(randn([1, 5, Config.JointAttentionDim], generator: new Generator(3)), randn([1, Config.PooledProjectionDim], generator: new Generator(4)),
                full([1], 3.5f), zeros(5, 3), Packing.ClonedImageIds(4, 4), relation);
            return transformer.forward(hidden, full([1], 0.7f), job);
        }
        var unfused = Forward();
        lora.Save(temp.File("lora.safetensors"));
        lora.Detach();
        var baseOutput = Forward();
        using (var file = SafetensorsFile.Open(temp.File("lora.safetensors")))
            Assert.Equal(lora.Branches.Count, LoraFuser.Fuse(transformer, file));
        var fused = Forward();

        Assert.True(Close.RelativeL2(unfused, baseOutput) > 1e-2, "the LoRA changes the output");
        Close.AssertRelativeL2(unfused, fused, tolerance: 1e-5, what: "unfused vs fused");
    }

    [Fact]
    public void Gradient_checkpointing_per_block_gives_the_gradients_of_the_plain_backward()
    {
        using var setup = Float64Objective.Create();
        var (transformer, adapter, lora, example, objective) = setup;
        var parameters = adapter.named_parameters().Select(p => (Name: p.name, Parameter: p.parameter))
            .Concat(lora.NamedParameters().Select(p => (p.Name, p.Parameter))).ToList();
        (double Loss, Dictionary<string, Tensor> Gradients) Backward(bool checkpointing)
        {
            transformer.GradientCheckpointing = checkpointing;
            using var generator = new Generator(99);
            using var loss = objective.Loss(example, generator);
            loss.backward();
            var gradients = parameters.ToDictionary(p => p.Name, p =>
            {
                using var gradient = p.Parameter.grad ?? throw new Xunit.Sdk.XunitException($"{p.Name} has no gradient (checkpointing {checkpointing}).");
                var copy = gradient.clone();
                gradient.zero_();
                return copy;
            });
            return (loss.item<double>(), gradients);
        }

        var plain = Backward(checkpointing: false);
        var checkpointed = Backward(checkpointing: true);
        Assert.Equal(plain.Loss, checkpointed.Loss);
        foreach (var (name, _) in parameters)
        {
            Assert.True(plain.Gradients[name].abs().max().item<double>() > 0, $"{name}: a zero gradient compares nothing");
            var difference = (plain.Gradients[name] - checkpointed.Gradients[name]).abs().max().item<double>();
            Assert.True(difference <= 1e-12 * Math.Max(1, plain.Gradients[name].abs().max().item<double>()), $"{name}: gradients differ by {difference}");
        }
        Assert.Contains(parameters, p => p.Name.StartsWith("transformer.transformer_blocks.0.", StringComparison.Ordinal));
        Assert.All(transformer.named_parameters(), p => Assert.Null(p.parameter.grad));
        foreach (var gradient in plain.Gradients.Values.Concat(checkpointed.Gradients.Values)) gradient.Dispose();
    }
}
