using System.Text.Json;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>
/// The tensors of a diffusers / transformers weights folder: one <c>*.safetensors</c> file, or the
/// shards named by a <c>*.safetensors.index.json</c> weight map.
/// </summary>
public sealed class ShardedCheckpoint : ITensorSource
{
    readonly Dictionary<string, SafetensorsFile> _owner;
    readonly List<SafetensorsFile> _files;

    ShardedCheckpoint(Dictionary<string, SafetensorsFile> owner, List<SafetensorsFile> files)
    {
        _owner = owner;
        _files = files;
    }

    public IReadOnlyCollection<string> Keys => _owner.Keys;

    /// <summary>Opens a folder (index file first, else its single safetensors file) or one file.</summary>
    public static ShardedCheckpoint Open(string path)
    {
        if (System.IO.File.Exists(path))
            return path.EndsWith(".index.json", StringComparison.Ordinal) ? OpenIndex(path) : FromFiles([SafetensorsFile.Open(path)]);
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"{path}: weights folder not found.");
        var index = Directory.GetFiles(path, "*.safetensors.index.json");
        if (index.Length > 0) return OpenIndex(index.Order(StringComparer.Ordinal).First());
        var single = Directory.GetFiles(path, "*.safetensors");
        return single.Length switch
        {
            1 => FromFiles([SafetensorsFile.Open(single[0])]),
            0 => throw new FileNotFoundException($"{path}: no *.safetensors file and no *.safetensors.index.json."),
            _ => throw new CheckpointFormatException(path, $"{single.Length} safetensors files but no index.json saying which holds what."),
        };
    }

    static ShardedCheckpoint OpenIndex(string indexPath)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
        Dictionary<string, string> weightMap;
        try
        {
            using var document = JsonDocument.Parse(System.IO.File.ReadAllBytes(indexPath));
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(indexPath, "index has no 'weight_map' object.");
            weightMap = map.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(indexPath, $"index is not valid JSON ({e.Message}).");
        }

        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var shard in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var shardPath = Path.Combine(folder, shard);
                if (shard.Contains("..") || !System.IO.File.Exists(shardPath))
                    throw new CheckpointFormatException(indexPath, $"shard '{shard}' named by the index is missing.");
                files[shard] = SafetensorsFile.Open(shardPath);
            }
            var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (key, shard) in weightMap)
            {
                var file = files[shard];
                if (!file.Contains(key))
                    throw new CheckpointFormatException(indexPath, $"the index puts '{key}' in '{shard}', which does not hold it.");
                owner[key] = file;
            }
            return new ShardedCheckpoint(owner, files.Values.ToList());
        }
        catch
        {
            foreach (var file in files.Values) file.Dispose();
            throw;
        }
    }

    static ShardedCheckpoint FromFiles(List<SafetensorsFile> files)
    {
        var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var file in files)
            foreach (var key in file.Keys)
                owner[key] = file;
        return new ShardedCheckpoint(owner, files);
    }

    public bool Contains(string key) => _owner.ContainsKey(key);

    public TensorEntry Describe(string key) => FileOf(key).Describe(key);

    public void CopyInto(string key, Tensor destination) => FileOf(key).CopyInto(key, destination);

    public Tensor Read(string key) => FileOf(key).Read(key);

    SafetensorsFile FileOf(string key) =>
        _owner.TryGetValue(key, out var file)
            ? file
            : throw new KeyNotFoundException($"no tensor named '{key}' in {string.Join(", ", _files.Select(f => Path.GetFileName(f.ToString())))}.");

    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }
}
