using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests;

/// <summary>Fails (never skips) when libtorch cannot load: every model test depends on it.</summary>
[Trait("Category", "Unit")]
public class LibTorchLoadsTests
{
    [Fact]
    public void Libtorch_loads_and_computes()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var product = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());
    }
}
