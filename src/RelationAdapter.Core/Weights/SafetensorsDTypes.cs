using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>The safetensors dtype names this project reads, with their element sizes.</summary>
public static class SafetensorsDTypes
{
    static readonly Dictionary<string, (ScalarType Type, int Size)> ByName = new()
    {
        ["F64"] = (ScalarType.Float64, 8),
        ["F32"] = (ScalarType.Float32, 4),
        ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2),
        ["I64"] = (ScalarType.Int64, 8),
        ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2),
        ["I8"] = (ScalarType.Int8, 1),
        ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    public static bool TryParse(string name, out ScalarType type, out int elementSize)
    {
        if (ByName.TryGetValue(name, out var found))
        {
            (type, elementSize) = found;
            return true;
        }
        (type, elementSize) = (default, 0);
        return false;
    }

    public static string NameOf(ScalarType type) =>
        ByName.First(kv => kv.Value.Type == type).Key;

    /// <summary>The bytes of one element of <paramref name="type"/>.</summary>
    public static int SizeOf(ScalarType type) =>
        ByName.Values.First(v => v.Type == type).Size;
}
