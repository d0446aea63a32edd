using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Text;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Layers;

/// <summary>
/// The offloaded paths (T5 block by block, the adapter's projections layer by layer) compute exactly what
/// the resident ones do. On the CPU nothing moves, but the streaming code runs; the Gpu category and
/// `RelationAdapter.Bench edit --offload true` cover the moves themselves.
/// </summary>
[Trait("Category", "Unit")]
public class OffloadTests
{
    static readonly ComputePlacement Streaming = new(CPU, OffloadAfterUse: true);

    [Fact]
    public void T5_streamed_block_by_block_equals_the_resident_encoder()
    {
        using var scope = NewDisposeScope();
        using var t5 = ModelFactory.Randomize(new T5Encoder(RandomModelSizes.Tiny.T5, ModuleOptions.CpuFloat32), new Generator(1));
        var ids = randint(0, RandomModelSizes.Tiny.T5.VocabSize, [1, 20], generator: new Generator(2));

        Assert.True(t5.forward(ids, Streaming).Same(t5.forward(ids)));
    }

    [Fact]
    public void Adapter_with_a_placement_gives_the_same_relation_tokens_and_keys()
    {
        using var scope = NewDisposeScope();
        using var adapter = ModelFactory.Randomize(new RelationAdapterModel(RandomModelSizes.Tiny.Adapter, ModuleOptions.CpuFloat32), new Generator(3));
        var pooled = randn([2, RandomModelSizes.Tiny.Adapter.ImageDim], generator: new Generator(4));
        var tokens = adapter.RelationTokens(pooled[0], pooled[1]);
        var resident = adapter.Project(tokens, 2, [0.5]);

        adapter.Placement = Streaming;
        Assert.True(adapter.RelationTokens(pooled[0], pooled[1]).Same(tokens));
        var placed = adapter.Project(tokens, 2, [0.5]);
        for (var i = 0; i < resident.Count; i++)
        {
            Assert.True(placed[i].Key.Same(resident[i].Key));
            Assert.True(placed[i].Value.Same(resident[i].Value));
        }
    }
}
