using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Tests.Weights;

[Trait("Category", "Golden")]
public class AdapterCheckpointGoldenTests
{
    [SkippableFact]
    public void Torch_zip_and_flat_safetensors_hold_identical_tensors()
    {
        using var pickled = TorchZipCheckpoint.Open(GoldenSet.Resolve("adapter/ip_adapter.bin"));
        using var flat = SafetensorsFile.Open(GoldenSet.Resolve("adapter/ip_adapter.flat.safetensors"));
        Assert.Equal(flat.Keys.Order(StringComparer.Ordinal), pickled.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("image_proj.proj.0.weight", pickled.Keys);
        Assert.Contains("ip_adapter.0.to_k_ip.weight", pickled.Keys);
        foreach (var key in flat.Keys)
        {
            using var a = pickled.Read(key);
            using var b = flat.Read(key);
            Assert.Equal(b.dtype, a.dtype);
            Assert.True(a.Same(b), key);
        }
    }

    [Fact]
    public void Not_a_zip_is_a_clear_error()
    {
        using var temp = new TempFolder();
        var path = temp.File("adapter.bin");
        File.WriteAllBytes(path, [0x80, 0x02, 0x7d, 0x71]);
        var error = Assert.Throws<CheckpointFormatException>(() => TorchZipCheckpoint.Open(path).Dispose());
        Assert.Contains(path, error.Message);
        Assert.Contains("not a zip archive", error.Message);
    }
}
