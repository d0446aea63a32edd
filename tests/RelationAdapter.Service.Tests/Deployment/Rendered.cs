using System.Globalization;
using System.Text.RegularExpressions;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>What one kustomization renders, with the questions the tests ask of it.</summary>
public sealed record Rendered(string Name, IReadOnlyList<Manifest> Objects)
{
    public static string OverlaysFolder => Repository.File("deploy", "overlays");

    public static IReadOnlyList<string> OverlayNames =>
        [.. Directory.GetDirectories(OverlaysFolder).Select(d => Path.GetFileName(d)!).Order(StringComparer.Ordinal)];

    public static TheoryData<string> Overlays() => new(OverlayNames);

    public static async Task<Rendered> OverlayAsync(string name) =>
        new(name, await Kustomize.RenderAsync(Path.Combine(OverlaysFolder, name)));

    /// <summary>
    /// An overlay with components, composed as a user's own overlay would (kustomize wants relative paths), in the
    /// overlay's namespace; <paramref name="more"/> is added to that kustomization as it is (an images: entry).
    /// </summary>
    public static async Task<Rendered> ComposedAsync(string overlay, string[] components, string more = "")
    {
        var namespaced = (await OverlayAsync(overlay)).Objects.Select(o => o.Namespace).FirstOrDefault(n => n is not null);
        var folder = Directory.CreateTempSubdirectory("ra-kustomize-");
        try
        {
            string Relative(params string[] parts) => Path.GetRelativePath(folder.FullName, Repository.File(["deploy", .. parts])).Replace('\\', '/');
            File.WriteAllText(Path.Combine(folder.FullName, "kustomization.yaml"), $"""
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                {(namespaced is null ? "" : "namespace: " + namespaced)}
                resources:
                  - {Relative("overlays", overlay)}
                components:
                {string.Join('\n', components.Select(c => "  - " + Relative("components", c)))}

                """ + more);
            return new Rendered($"{overlay} + {string.Join(" + ", components)}", await Kustomize.RenderAsync(folder.FullName));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    public IEnumerable<Manifest> OfKind(string kind) => Objects.Where(o => o.Kind == kind);

    public IEnumerable<Manifest> Workloads => Objects.Where(o => o.Kind is "Deployment" or "StatefulSet");

    /// <summary>Every Deployment runs the service (Redis is a StatefulSet), in one role.</summary>
    public IEnumerable<Manifest> ServiceDeployments => OfKind("Deployment");

    public IEnumerable<Manifest> InRole(string role) => ServiceDeployments.Where(d => Pod.Role(Pod.Container(d)) == role);

    public Manifest Single(string kind, string name) =>
        Objects.SingleOrDefault(o => o.Kind == kind && o.Name == name) ?? throw new Xunit.Sdk.XunitException($"{Name} renders no {kind} {name}");

    /// <summary>The workloads whose pods a label selector picks.</summary>
    public List<Manifest> Selected(object? selector) =>
        [.. Workloads.Where(w => Pod.Matches(Yaml.Map(selector), Pod.Labels(w)))];
}

/// <summary>Pod templates, their containers and environment.</summary>
public static partial class Pod
{
    public static object? Spec(Manifest workload) => Yaml.Get(workload.Root, "spec", "template", "spec");

    public static Dictionary<object, object> Labels(Manifest workload) => Yaml.Map(workload.Root, "spec", "template", "metadata", "labels");

    public static Dictionary<object, object> Annotations(Manifest workload) => Yaml.Map(workload.Root, "spec", "template", "metadata", "annotations");

    /// <summary>The container named <paramref name="name"/> (the service's is "service" everywhere).</summary>
    /// <summary>The containers and the init containers.</summary>
    public static IEnumerable<Dictionary<object, object>> AllContainers(Manifest workload) =>
        Yaml.List(Spec(workload), "containers").Concat(Yaml.List(Spec(workload), "initContainers")).Cast<Dictionary<object, object>>();

    public static Dictionary<object, object> Container(Manifest workload, string name = "service") =>
        Yaml.List(Spec(workload), "containers").Cast<Dictionary<object, object>>().SingleOrDefault(c => Yaml.Text(c, "name") == name)
        ?? throw new Xunit.Sdk.XunitException($"{workload}: no container '{name}'");

    public static List<Dictionary<object, object>> Env(object container) => [.. Yaml.List(container, "env").Cast<Dictionary<object, object>>()];

    public static Dictionary<object, object>? Variable(object container, string name) => Env(container).SingleOrDefault(e => Yaml.Text(e, "name") == name);

    public static string? Value(object container, string name) => Yaml.Text(Variable(container, name), "value");

    public static string Role(object container) => Value(container, "Service__Role") ?? ServiceOptions.AllRole;

    public static ServiceOptions Options(object container) => new() { Role = Role(container) };

    public static object? Volume(Manifest workload, string name) => Yaml.List(Spec(workload), "volumes").SingleOrDefault(v => Yaml.Text(v, "name") == name);

    public static object? Mount(object container, string volume) => Yaml.List(container, "volumeMounts").SingleOrDefault(m => Yaml.Text(m, "name") == volume);

    /// <summary>A selector matches when every pair it names is among the labels; an empty one matches nothing here.</summary>
    public static bool Matches(Dictionary<object, object> selector, Dictionary<object, object> labels) =>
        selector.Count > 0 && selector.All(pair => labels.TryGetValue(pair.Key, out var value) && Equals(value, pair.Value));

    /// <summary>The variables a value refers to as $(NAME), which Kubernetes expands ($$ escapes).</summary>
    public static List<string> References(string value) => [.. Reference().Matches(value).Select(m => m.Groups["name"].Value)];

    [GeneratedRegex(@"(?<!\$)\$\((?<name>[A-Za-z_][A-Za-z0-9_]*)\)")]
    private static partial Regex Reference();

    /// <summary>Bytes in a Kubernetes quantity (2Gi, 512M, 1000).</summary>
    public static double Bytes(string quantity) => Scaled(quantity, new()
    {
        ["Ki"] = 1L << 10, ["Mi"] = 1L << 20, ["Gi"] = 1L << 30, ["Ti"] = 1L << 40,
        ["k"] = 1e3, ["M"] = 1e6, ["G"] = 1e9, ["T"] = 1e12, [""] = 1,
    });

    /// <summary>Bytes in a Redis memory setting (1536mb, 2gb, 1g, 100000).</summary>
    public static double RedisBytes(string setting) => Scaled(setting.ToLowerInvariant(), new()
    {
        ["kb"] = 1L << 10, ["mb"] = 1L << 20, ["gb"] = 1L << 30, ["k"] = 1e3, ["m"] = 1e6, ["g"] = 1e9, [""] = 1,
    });

    static double Scaled(string text, Dictionary<string, double> units)
    {
        var match = Regex.Match(text, @"^(?<number>[0-9.]+)(?<unit>[A-Za-z]*)$");
        Assert.True(match.Success && units.ContainsKey(match.Groups["unit"].Value), $"'{text}' is not a size");
        return double.Parse(match.Groups["number"].Value, CultureInfo.InvariantCulture) * units[match.Groups["unit"].Value];
    }
}
