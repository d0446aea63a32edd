using System.Text;
using System.Text.Json;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Support;

/// <summary>Writes safetensors files for tests: valid ones from tensors, or raw header + data bytes.</summary>
public static class SafetensorsWriter
{
    /// <summary>A valid file; the header is padded with spaces to a multiple of 8 bytes (as the reference writer does) unless asked not to.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null, bool alignData = true)
    {
        var header = new Dictionary<string, object>();
        if (metadata is not null) header["__metadata__"] = metadata;
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, tensor) in tensors)
        {
            using var contiguous = tensor.cpu().contiguous();
            var bytes = contiguous.bytes.ToArray();
            header[name] = new { dtype = SafetensorsDTypes.NameOf(tensor.dtype), shape = tensor.shape, data_offsets = new[] { offset, offset + bytes.Length } };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        var json = JsonSerializer.Serialize(header);
        if (alignData) json = json.PadRight((json.Length + 7) / 8 * 8);
        else if (json.Length % 2 == 0) json += " ";
        WriteRaw(path, json, blobs.SelectMany(b => b).ToArray());
    }

    public static void WriteRaw(string path, string headerJson, byte[] data, long? claimedHeaderLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes(claimedHeaderLength ?? header.Length));
        stream.Write(header);
        stream.Write(data);
    }
}

public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("ra-tests-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
