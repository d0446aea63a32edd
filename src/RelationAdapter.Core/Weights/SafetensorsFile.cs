using System.IO.MemoryMappedFiles;
using System.Text.Json;
using RelationAdapter.Core.Native;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>
/// One safetensors file: an 8-byte little-endian header length, a JSON header, then raw little-endian
/// tensor data. The header is validated when the file is opened. <see cref="Read"/> returns tensors
/// that are copy-on-write views of the memory-mapped file (no copy at all); <see cref="CopyInto"/>
/// copies from such a view straight into the destination (converting dtype or moving to the GPU on
/// the way), so loading never holds a managed copy nor a second host copy of the weights.
/// </summary>
public sealed class SafetensorsFile : ITensorSource
{
    const long MaxHeaderBytes = 100L * 1024 * 1024;

    readonly string _path;
    readonly MemoryMappedFile _map;
    readonly Dictionary<string, Slot> _slots;

    sealed record Slot(TensorEntry Entry, long Begin, long End, int ElementSize);

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public IReadOnlyCollection<string> Keys => _slots.Keys;

    public long DataOffset { get; }

    SafetensorsFile(string path, MemoryMappedFile map, Dictionary<string, Slot> slots,
        IReadOnlyDictionary<string, string> metadata, long dataOffset)
    {
        _path = path;
        _map = map;
        _slots = slots;
        Metadata = metadata;
        DataOffset = dataOffset;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: safetensors file not found.", path);
        var (slots, metadata, dataOffset) = ReadHeader(path);
        var length = new FileInfo(path).Length;
        var map = length == 0
            ? throw new CheckpointFormatException(path, "file is empty.")
            : MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.CopyOnWrite);
        return new SafetensorsFile(path, map, slots, metadata, dataOffset);
    }

    static (Dictionary<string, Slot>, Dictionary<string, string>, long) ReadHeader(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        var fileLength = stream.Length;
        if (fileLength < 8)
            throw new CheckpointFormatException(path, $"file is {fileLength} bytes, too short for the 8-byte header length.");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var headerLength = BitConverter.ToInt64(prefix);
        if (headerLength < 2 || headerLength > MaxHeaderBytes || 8 + headerLength > fileLength)
            throw new CheckpointFormatException(path,
                $"header length {headerLength} runs past the end of the file ({fileLength} bytes) or is out of range.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataOffset = 8 + headerLength;
        var dataLength = fileLength - dataOffset;

        JsonDocument document;
        try { document = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new CheckpointFormatException(path, $"header is not valid JSON ({e.Message})."); }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(path, "header is not a JSON object.");
            var slots = new Dictionary<string, Slot>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in property.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                slots[property.Name] = ParseSlot(path, property, dataLength);
            }
            CheckNoOverlap(path, slots.Values);
            return (slots, metadata, dataOffset);
        }
    }

    static Slot ParseSlot(string path, JsonProperty property, long dataLength)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw new CheckpointFormatException(path, $"tensor '{name}' needs dtype, shape and two data_offsets.");

        var dtypeName = dtypeElement.GetString()!;
        if (!SafetensorsDTypes.TryParse(dtypeName, out var dtype, out var elementSize))
            throw new CheckpointFormatException(path, $"tensor '{name}' has unknown dtype '{dtypeName}'.");

        long[] shape;
        long begin, end;
        try
        {
            shape = shapeElement.EnumerateArray().Select(e => e.GetInt64()).ToArray();
            begin = offsetsElement[0].GetInt64();
            end = offsetsElement[1].GetInt64();
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new CheckpointFormatException(path, $"tensor '{name}' has a non-integer shape or data offset.");
        }
        if (shape.Any(d => d < 0))
            throw new CheckpointFormatException(path, $"tensor '{name}' has a negative dimension.");
        if (begin < 0 || end < begin || end > dataLength)
            throw new CheckpointFormatException(path,
                $"tensor '{name}' data offsets [{begin}, {end}) are out of range (data section is {dataLength} bytes).");
        var entry = new TensorEntry(name, dtype, shape, path);
        var expected = checked(entry.ElementCount * elementSize);
        if (expected != end - begin)
            throw new CheckpointFormatException(path,
                $"tensor '{name}' shape {entry.ShapeText} of {dtypeName} needs {expected} bytes but its offsets span {end - begin}.");
        return new Slot(entry, begin, end, elementSize);
    }

    static void CheckNoOverlap(string path, IEnumerable<Slot> slots)
    {
        Slot? previous = null;
        foreach (var slot in slots.Where(s => s.End > s.Begin).OrderBy(s => s.Begin))
        {
            if (previous is not null && slot.Begin < previous.End)
                throw new CheckpointFormatException(path,
                    $"tensors '{previous.Entry.Name}' and '{slot.Entry.Name}' overlap ([{previous.Begin}, {previous.End}) and [{slot.Begin}, {slot.End})).");
            previous = slot;
        }
    }

    public bool Contains(string key) => _slots.ContainsKey(key);

    public TensorEntry Describe(string key) => SlotOf(key).Entry;

    Slot SlotOf(string key) =>
        _slots.TryGetValue(key, out var slot)
            ? slot
            : throw new KeyNotFoundException($"{_path}: no tensor named '{key}'.");

    /// <summary>The tensor as a copy-on-write view of the mapped file, in its stored dtype, on the CPU.</summary>
    public Tensor Read(string key)
    {
        var slot = SlotOf(key);
        if (slot.End > slot.Begin)
        {
            var view = NativeTensors.MapView(_map, DataOffset + slot.Begin, slot.End - slot.Begin, slot.Entry.DType, slot.Entry.Shape, slot.ElementSize);
            if (view is not null) return view;
        }
        // Empty, or not aligned for its dtype: copy into a fresh tensor instead.
        return TensorCopy.NewFilled(slot.Entry, tensor => CopyBytes(slot, tensor));
    }

    public void CopyInto(string key, Tensor destination)
    {
        var slot = SlotOf(key);
        TensorCopy.Into(slot.Entry, destination, target => CopyBytes(slot, target), () => Read(key));
    }

    unsafe void CopyBytes(Slot slot, Tensor destination)
    {
        var length = slot.End - slot.Begin;
        if (length == 0) return;
        using var view = _map.CreateViewAccessor(DataOffset + slot.Begin, length, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        try
        {
            Buffer.MemoryCopy(pointer + view.PointerOffset, NativeTensors.Data(destination), length, length);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    public void Dispose() => _map.Dispose();

    public override string ToString() => _path;
}
