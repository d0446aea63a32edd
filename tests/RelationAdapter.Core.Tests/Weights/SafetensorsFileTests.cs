using RelationAdapter.Core.Native;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Weights;

[Trait("Category", "Unit")]
public class SafetensorsFileTests
{
    [Fact]
    public void Round_trips_every_supported_dtype_and_metadata()
    {
        using var temp = new TempFolder();
        var path = temp.File("ok.safetensors");
        using var f32 = randn(3, 5);
        using var f16 = randn(4).to(ScalarType.Float16);
        using var bf16 = randn(2, 2).to(ScalarType.BFloat16);
        using var i64 = arange(6L).reshape(2, 3);
        using var u8 = tensor(new byte[] { 1, 2, 255 });
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["a"] = f32, ["b"] = f16, ["c"] = bf16, ["d"] = i64, ["e"] = u8 },
            new Dictionary<string, string> { ["seed"] = "7" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal("7", file.Metadata["seed"]);
        foreach (var (key, expected) in new[] { ("a", f32), ("b", f16), ("c", bf16), ("d", i64), ("e", u8) })
        {
            using var read = file.Read(key);
            Assert.Equal(expected.dtype, read.dtype);
            Assert.True(read.Same(expected), key);
        }
    }

    [Fact]
    public void Unaligned_data_is_read_by_copying()
    {
        using var temp = new TempFolder();
        var path = temp.File("unaligned.safetensors");
        using var stored = arange(16, dtype: ScalarType.Float32).reshape(4, 4);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = stored }, alignData: false);
        using var file = SafetensorsFile.Open(path);
        Assert.NotEqual(0, file.DataOffset % 4);
        using var read = file.Read("w");
        Assert.True(read.Same(stored));
    }

    [Fact]
    public unsafe void Read_tensors_are_copy_on_write_views_that_outlive_the_file_and_release_their_mapping()
    {
        using var temp = new TempFolder();
        var path = temp.File("views.safetensors");
        using var stored = arange(16, dtype: ScalarType.Float32).reshape(4, 4);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = stored });
        var bytesOnDisk = File.ReadAllBytes(path);

        Tensor view;
        using (var file = SafetensorsFile.Open(path)) view = file.Read("w");
        var data = (IntPtr)NativeTensors.Data(view);
        using (NewDisposeScope()) // indexing makes views that share the mapping
        {
            Assert.True(view.Same(stored));
            view[0, 0] = tensor(100f);
            Assert.Equal(100f, view[0, 0].item<float>());
        }
        Assert.Equal(bytesOnDisk, File.ReadAllBytes(path));
        Assert.True(NativeTensors.IsMapped(data));
        view.Dispose();
        Assert.False(NativeTensors.IsMapped(data));
    }

    [Fact]
    public void Copies_into_a_destination_of_another_dtype()
    {
        using var temp = new TempFolder();
        var path = temp.File("bf16.safetensors");
        using var stored = randn(8, 8).to(ScalarType.BFloat16);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = stored });
        using var file = SafetensorsFile.Open(path);
        using var destination = zeros(8, 8);
        file.CopyInto("w", destination);
        Assert.True(destination.Same(stored.to(ScalarType.Float32)));
    }

    public static TheoryData<string, string, byte[], long?, string> BadFiles => new()
    {
        { "header-past-end", "{}", [], 1000, "header length 1000 runs past the end" },
        { "invalid-json", "{\"a\": [", new byte[8], null, "header is not valid JSON" },
        { "offsets-out-of-range", """{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8], null, "data offsets [0, 16) are out of range" },
        { "overlap", """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12], null, "overlap" },
        { "unknown-dtype", """{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}""", new byte[8], null, "unknown dtype 'Q7'" },
        { "size-disagrees", """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", new byte[8], null, "needs 12 bytes but its offsets span 8" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_files_name_the_file_and_the_problem(string name, string header, byte[] data, long? claimedLength, string problem)
    {
        using var temp = new TempFolder();
        var path = temp.File(name + ".safetensors");
        SafetensorsWriter.WriteRaw(path, header, data, claimedLength);
        var error = Assert.Throws<CheckpointFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Contains(path, error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void Missing_key_is_named()
    {
        using var temp = new TempFolder();
        var path = temp.File("one.safetensors");
        using var t = zeros(2);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["present"] = t });
        using var file = SafetensorsFile.Open(path);
        var error = Assert.Throws<KeyNotFoundException>(() => file.Read("absent"));
        Assert.Contains("'absent'", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void Missing_shard_is_named()
    {
        using var temp = new TempFolder();
        using var t = zeros(2);
        SafetensorsWriter.Write(temp.File("model-00001-of-00002.safetensors"), new Dictionary<string, Tensor> { ["a"] = t });
        File.WriteAllText(temp.File("model.safetensors.index.json"),
            """{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""");
        var error = Assert.Throws<CheckpointFormatException>(() => ShardedCheckpoint.Open(temp.Path).Dispose());
        Assert.Contains("model-00002-of-00002.safetensors", error.Message);
        Assert.Contains("missing", error.Message);
    }

    [Fact]
    public void Sharded_folder_reads_keys_from_every_shard()
    {
        using var temp = new TempFolder();
        using var a = randn(3);
        using var b = randn(2, 2);
        SafetensorsWriter.Write(temp.File("m-1.safetensors"), new Dictionary<string, Tensor> { ["a"] = a });
        SafetensorsWriter.Write(temp.File("m-2.safetensors"), new Dictionary<string, Tensor> { ["b"] = b });
        File.WriteAllText(temp.File("m.safetensors.index.json"), """{"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}}""");
        using var checkpoint = ShardedCheckpoint.Open(temp.Path);
        Assert.Equal(["a", "b"], checkpoint.Keys.Order());
        using var readB = checkpoint.Read("b");
        Assert.True(readB.Same(b));
    }

    [Fact]
    public void Shape_mismatch_against_the_module_names_key_and_both_shapes()
    {
        using var temp = new TempFolder();
        var path = temp.File("w.safetensors");
        using var weight = zeros(3, 4);
        using var bias = zeros(3);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["weight"] = weight, ["bias"] = bias });
        using var file = SafetensorsFile.Open(path);
        using var linear = nn.Linear(5, 3);
        var error = Assert.Throws<CheckpointFormatException>(() => StateDictLoader.Load(linear, file));
        Assert.Contains("'weight'", error.Message);
        Assert.Contains("[3, 4]", error.Message);
        Assert.Contains("[3, 5]", error.Message);
    }

    [Fact]
    public void Loader_lists_missing_and_unused_keys()
    {
        using var temp = new TempFolder();
        var path = temp.File("w.safetensors");
        using var weight = zeros(3, 5);
        using var extra = zeros(1);
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["weight"] = weight, ["extra"] = extra });
        using var file = SafetensorsFile.Open(path);
        using var linear = nn.Linear(5, 3);
        var missing = Assert.Throws<CheckpointFormatException>(() => StateDictLoader.Load(linear, file));
        Assert.Contains("missing 1 key(s): bias", missing.Message);
        using var noBias = nn.Linear(5, 3, hasBias: false);
        var unused = Assert.Throws<CheckpointFormatException>(() => StateDictLoader.Load(noBias, file));
        Assert.Contains("extra", unused.Message);
        StateDictLoader.Load(noBias, file, ignoreUnused: k => k == "extra");
    }
}
