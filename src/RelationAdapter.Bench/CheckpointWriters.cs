using System.IO.Compression;
using System.Text;
using System.Text.Json;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>A tensor to write: its key, dtype and shape (the values are random).</summary>
public sealed record TensorSpec(string Name, ScalarType DType, long[] Shape)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
    public int ElementSize => SafetensorsDTypes.SizeOf(DType);
    public long Bytes => Elements * ElementSize;
}

/// <summary>
/// Writes random weights in the layouts users download: safetensors files (sharded with a diffusers /
/// transformers index) and the torch.save zip of the RelationAdapter. Values come from one block of
/// N(0, 0.02) numbers repeated, so writing tens of GB costs little more than the disk.
/// </summary>
public static class CheckpointWriters
{
    const int BlockBytes = 16 << 20;
    static readonly Lazy<(byte[] Bf16, byte[] F32)> Blocks = new(() =>
    {
        var random = new Random(17);
        var bf16 = new byte[BlockBytes];
        var f32 = new byte[BlockBytes];
        for (var i = 0; i < BlockBytes / 4; i++)
        {
            var gaussian = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) * 0.02);
            BitConverter.TryWriteBytes(f32.AsSpan(i * 4), gaussian);
            var bits = BitConverter.SingleToUInt32Bits(gaussian) >> 16;
            BitConverter.TryWriteBytes(bf16.AsSpan(i * 2), (ushort)bits);
            BitConverter.TryWriteBytes(bf16.AsSpan(BlockBytes / 2 + i * 2), (ushort)bits);
        }
        return (bf16, f32);
    });

    static void WriteValues(Stream stream, TensorSpec tensor)
    {
        var block = tensor.DType == ScalarType.Float32 ? Blocks.Value.F32 : Blocks.Value.Bf16;
        for (long done = 0; done < tensor.Bytes; done += BlockBytes)
            stream.Write(block, 0, (int)Math.Min(BlockBytes, tensor.Bytes - done));
    }

    /// <summary>One safetensors file.</summary>
    public static long WriteSafetensors(string path, IReadOnlyList<TensorSpec> tensors)
    {
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        long offset = 0;
        foreach (var t in tensors)
        {
            header[t.Name] = new { dtype = SafetensorsDTypes.NameOf(t.DType), shape = t.Shape, data_offsets = new[] { offset, offset + t.Bytes } };
            offset += t.Bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(BitConverter.GetBytes((long)padded));
        stream.Write(json);
        for (var i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var t in tensors) WriteValues(stream, t);
        return stream.Length;
    }

    /// <summary>Shards of at most <paramref name="shardBytes"/> named like Hugging Face's, plus the index.</summary>
    public static long WriteSharded(string directory, string stem, IReadOnlyList<TensorSpec> tensors, long shardBytes)
    {
        var shards = new List<List<TensorSpec>> { new() };
        long size = 0;
        foreach (var t in tensors)
        {
            if (size > 0 && size + t.Bytes > shardBytes)
            {
                shards.Add([]);
                size = 0;
            }
            shards[^1].Add(t);
            size += t.Bytes;
        }
        if (shards.Count == 1) return WriteSafetensors(Path.Combine(directory, stem + ".safetensors"), tensors);
        long written = 0;
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < shards.Count; i++)
        {
            var name = $"{stem}-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            written += WriteSafetensors(Path.Combine(directory, name), shards[i]);
            foreach (var t in shards[i]) weightMap[t.Name] = name;
        }
        var index = new { metadata = new { total_size = tensors.Sum(t => t.Bytes) }, weight_map = weightMap };
        File.WriteAllText(Path.Combine(directory, stem + ".safetensors.index.json"), JsonSerializer.Serialize(index));
        return written;
    }

    /// <summary>
    /// A torch.save zip of nested dicts of tensors (<c>{"image_proj": {...}, "ip_adapter": {...}}</c>):
    /// data.pkl (pickle protocol 2, storages as persistent ids, tensors rebuilt by _rebuild_tensor_v2),
    /// one stored entry per storage, version and byteorder.
    /// </summary>
    public static long WriteTorchZip(string path, IReadOnlyDictionary<string, IReadOnlyList<TensorSpec>> groups)
    {
        const string archive = "archive/";
        File.Delete(path);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        {
            var pickle = new MemoryStream();
            var storages = new List<TensorSpec>();
            pickle.Write([0x80, 2, (byte)'}', (byte)'(']);
            foreach (var (group, tensors) in groups)
            {
                Unicode(pickle, group);
                pickle.Write([(byte)'}', (byte)'(']);
                foreach (var t in tensors)
                {
                    Unicode(pickle, t.Name);
                    Global(pickle, "torch._utils", "_rebuild_tensor_v2");
                    pickle.WriteByte((byte)'(');
                    pickle.WriteByte((byte)'(');
                    Unicode(pickle, "storage");
                    Global(pickle, "torch", t.DType == ScalarType.Float32 ? "FloatStorage" : "BFloat16Storage");
                    Unicode(pickle, storages.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    Unicode(pickle, "cpu");
                    Integer(pickle, t.Elements);
                    pickle.Write([(byte)'t', (byte)'Q']);
                    Integer(pickle, 0);
                    Tuple(pickle, t.Shape);
                    var strides = new long[t.Shape.Length];
                    for (long i = t.Shape.Length - 1, stride = 1; i >= 0; stride *= t.Shape[i], i--) strides[i] = stride;
                    Tuple(pickle, strides);
                    pickle.WriteByte(0x89);
                    Global(pickle, "collections", "OrderedDict");
                    pickle.Write([(byte)')', (byte)'R', (byte)'t', (byte)'R']);
                    storages.Add(t);
                }
                pickle.WriteByte((byte)'u');
            }
            pickle.Write([(byte)'u', (byte)'.']);
            Entry(zip, archive + "data.pkl", s => pickle.WriteTo(s));
            Entry(zip, archive + "byteorder", s => s.Write("little"u8));
            for (var i = 0; i < storages.Count; i++)
                Entry(zip, archive + "data/" + i, s => WriteValues(s, storages[i]));
            Entry(zip, archive + "version", s => s.Write("3\n"u8));
        }
        return new FileInfo(path).Length;
    }

    static void Entry(ZipArchive zip, string name, Action<Stream> write)
    {
        using var stream = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
        write(stream);
    }

    static void Unicode(Stream s, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        s.WriteByte((byte)'X');
        s.Write(BitConverter.GetBytes(bytes.Length));
        s.Write(bytes);
    }

    static void Global(Stream s, string module, string name) => s.Write(Encoding.ASCII.GetBytes($"c{module}\n{name}\n"));

    static void Integer(Stream s, long value)
    {
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            s.WriteByte((byte)'J');
            s.Write(BitConverter.GetBytes((int)value));
        }
        else
        {
            s.Write([0x8a, 8]);
            s.Write(BitConverter.GetBytes(value));
        }
    }

    static void Tuple(Stream s, long[] values)
    {
        s.WriteByte((byte)'(');
        foreach (var v in values) Integer(s, v);
        s.WriteByte((byte)'t');
    }
}
