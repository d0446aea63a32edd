using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>Writes named tensors as one safetensors file (header padded to 8 bytes, data in key order).</summary>
public static class SafetensorsWriting
{
    public static void Write(string path, IReadOnlyList<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>();
        if (metadata is not null) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, tensor) in tensors)
        {
            var size = tensor.NumberOfElements * SafetensorsDTypes.SizeOf(tensor.dtype);
            header[name] = new { dtype = SafetensorsDTypes.NameOf(tensor.dtype), shape = tensor.shape, data_offsets = new[] { offset, offset + size } };
            offset += size;
        }
        var json = JsonSerializer.Serialize(header);
        json = json.PadRight((json.Length + 7) / 8 * 8);
        var headerBytes = Encoding.UTF8.GetBytes(json);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(BitConverter.GetBytes((long)headerBytes.Length));
        stream.Write(headerBytes);
        foreach (var (_, tensor) in tensors)
        {
            using var contiguous = tensor.detach().cpu().contiguous();
            stream.Write(contiguous.bytes);
        }
        stream.Flush(flushToDisk: true);
    }
}

/// <summary>Tensors held in memory, read like a checkpoint (what the fuser and loaders take).</summary>
public sealed class InMemoryTensors(IReadOnlyDictionary<string, Tensor> tensors, string name) : ITensorSource
{
    public IReadOnlyCollection<string> Keys => tensors.Keys.ToList();

    public bool Contains(string key) => tensors.ContainsKey(key);

    public TensorEntry Describe(string key) => tensors.TryGetValue(key, out var t)
        ? new TensorEntry(key, t.dtype, t.shape, name)
        : throw new KeyNotFoundException($"'{key}' is not in {name}.");

    public void CopyInto(string key, Tensor destination)
    {
        using var _ = no_grad();
        destination.copy_(tensors[key]);
    }

    public Tensor Read(string key) => tensors[key].detach().cpu().clone();

    /// <summary>The tensors belong to the caller.</summary>
    public void Dispose() { }

    public override string ToString() => name;
}
