using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Flux;

[Trait("Category", "Unit")]
public class TransformerBehaviourTests
{
    static readonly FluxTransformerConfig Config = new()
    {
        NumLayers = 2, NumSingleLayers = 2, AttentionHeadDim = 16, NumAttentionHeads = 2, JointAttentionDim = 24, PooledProjectionDim = 12, AxesDimsRope = [4, 6, 6],
    };

    sealed class Inputs(Generator g, int batch, long imageTokens = 12, long textTokens = 5, long relationTokens = 6)
    {
        public Tensor Hidden { get; } = randn([batch, imageTokens, Config.InChannels], generator: g);
        public Tensor Prompt { get; } = randn([batch, textTokens, Config.JointAttentionDim], generator: g);
        public Tensor Pooled { get; } = randn([batch, Config.PooledProjectionDim], generator: g);
        public Tensor Relation { get; } = randn([batch, relationTokens, 20], generator: g);
        public Tensor Guidance { get; } = rand([batch], generator: g) * 5;
        public Tensor Timestep { get; } = rand([batch], generator: g);
        public Tensor ImageIds { get; } = randint(0, 8, [imageTokens, 3], generator: g).to(ScalarType.Float32);
        public Tensor TextIds { get; } = zeros(textTokens, 3);
    }

    static (FluxTransformer Model, RelationAdapterModel Adapter) Models()
    {
        var g = new Generator(3);
        return (ModelFactory.Randomize(new FluxTransformer(Config, ModuleOptions.CpuFloat32), g),
            ModelFactory.Randomize(new RelationAdapterModel(new RelationAdapterConfig(8, 20, 3, Config.InnerDim, Config.AttentionLayerCount), ModuleOptions.CpuFloat32), g));
    }

    static Tensor Step(FluxTransformer model, RelationAdapterModel adapter, Inputs x, Tensor hidden, Tensor prompt, Tensor pooled,
        Tensor relation, Tensor guidance, Tensor timestep, double[] scales)
    {
        using var job = model.Prepare(prompt, pooled, guidance, x.TextIds, x.ImageIds, adapter.Project(relation, Config.NumAttentionHeads, scales));
        return model.forward(hidden, timestep, job);
    }

    [Fact]
    public void A_batch_of_two_different_jobs_equals_two_single_runs()
    {
        var (model, adapter) = Models();
        using var scope = NewDisposeScope();
        var x = new Inputs(new Generator(5), batch: 2);
        double[] scales = [1.0, 0.4];

        var batched = Step(model, adapter, x, x.Hidden, x.Prompt, x.Pooled, x.Relation, x.Guidance, x.Timestep, scales);
        for (var i = 0; i < 2; i++)
        {
            var single = Step(model, adapter, x, x.Hidden[i..(i + 1)], x.Prompt[i..(i + 1)], x.Pooled[i..(i + 1)], x.Relation[i..(i + 1)],
                x.Guidance[i..(i + 1)], x.Timestep[i..(i + 1)], [scales[i]]);
            Assert.True(single.allclose(batched[i..(i + 1)], rtol: 1e-5, atol: 1e-5), $"sample {i} differs between batched and single runs");
        }
        Assert.False(batched[0].allclose(batched[1]), "the two jobs should differ");
    }

    [Fact]
    public void Relation_scale_zero_equals_no_relation_and_scale_changes_the_output()
    {
        var (model, adapter) = Models();
        using var scope = NewDisposeScope();
        var x = new Inputs(new Generator(6), batch: 1);
        var scaled0 = Step(model, adapter, x, x.Hidden, x.Prompt, x.Pooled, x.Relation, x.Guidance, x.Timestep, [0.0]);
        using var job = model.Prepare(x.Prompt, x.Pooled, x.Guidance, x.TextIds, x.ImageIds, null);
        var none = model.forward(x.Hidden, x.Timestep, job);
        var scaled1 = Step(model, adapter, x, x.Hidden, x.Prompt, x.Pooled, x.Relation, x.Guidance, x.Timestep, [1.0]);
        Assert.True(scaled0.allclose(none, rtol: 1e-6, atol: 1e-6));
        Assert.False(scaled1.allclose(none, rtol: 1e-3, atol: 1e-3));
    }

    [Fact]
    public void A_hundred_forwards_leave_no_tensor_behind()
    {
        var (model, adapter) = Models();
        var x = new Inputs(new Generator(7), batch: 1);
        using var job = model.Prepare(x.Prompt, x.Pooled, x.Guidance, x.TextIds, x.ImageIds, adapter.Project(x.Relation, Config.NumAttentionHeads, [1.0]));
        using (model.forward(x.Hidden, x.Timestep, job)) { }
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        for (var i = 0; i < 100; i++)
            using (model.forward(x.Hidden, x.Timestep, job)) { }

        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
