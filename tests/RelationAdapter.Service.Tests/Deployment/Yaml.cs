using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>Kubernetes manifests as plain trees, navigable by key paths.</summary>
public sealed record Manifest(string File, Dictionary<object, object> Root)
{
    public string Kind => (string)Root["kind"];
    public string Name => (string)Yaml.Get(Root, "metadata", "name")!;
    public string? Namespace => Yaml.Text(Root, "metadata", "namespace");
    public string? ApiVersion => Yaml.Text(Root, "apiVersion");

    public override string ToString() => $"{Kind} {Name} ({File})";

    public static IReadOnlyList<Manifest> LoadAll(string path) => Parse(System.IO.File.ReadAllText(path), path);

    /// <summary>Every document of a multi-document stream; documents holding only comments are skipped.</summary>
    public static IReadOnlyList<Manifest> Parse(string text, string source)
    {
        var deserializer = new DeserializerBuilder().Build();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        var manifests = new List<Manifest>();
        while (parser.Accept<DocumentStart>(out _))
            if (deserializer.Deserialize<object>(parser) is Dictionary<object, object> root)
                manifests.Add(new Manifest(source, root));
        return manifests;
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

    public static Dictionary<object, object> Map(object? node, params object[] path) => Get(node, path) as Dictionary<object, object> ?? [];
}
