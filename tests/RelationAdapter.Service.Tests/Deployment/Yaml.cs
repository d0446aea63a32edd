using YamlDotNet.Serialization;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>Kubernetes manifests as plain trees, navigable by key paths.</summary>
public sealed record Manifest(string File, Dictionary<object, object> Root)
{
    public string Kind => (string)Root["kind"];
    public string Name => (string)Yaml.Get(Root, "metadata", "name")!;

    public static IReadOnlyList<Manifest> LoadAll(string path)
    {
        var deserializer = new DeserializerBuilder().Build();
        var text = System.IO.File.ReadAllText(path);
        return text.Split("\n---", StringSplitOptions.RemoveEmptyEntries)
            .Select(document => deserializer.Deserialize<object>(document))
            .OfType<Dictionary<object, object>>()
            .Select(root => new Manifest(path, root))
            .ToList();
    }
}

public static class Yaml
{
    /// <summary>Follows keys (strings) and list indices (ints); null when a step is missing.</summary>
    public static object? Get(object? node, params object[] path)
    {
        foreach (var step in path)
        {
            node = (node, step) switch
            {
                (Dictionary<object, object> map, string key) => map.TryGetValue(key, out var value) ? value : null,
                (List<object> list, int index) => index < list.Count ? list[index] : null,
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }

    public static string? Text(object? node, params object[] path) => Get(node, path)?.ToString();

    public static List<object> List(object? node, params object[] path) => Get(node, path) as List<object> ?? [];
}
