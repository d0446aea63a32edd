using System.Text.RegularExpressions;

namespace RelationAdapter.Core.Tests.Architecture;

/// <summary>
/// The folder graph of a project's sources, read from the text of its .cs files: folder A uses folder B
/// when a file whose namespace is <c>Root.A…</c> names <c>Root.B</c> (in a using directive, plain, static
/// or alias, or in a fully qualified name, <c>global::</c> included) or a type of B qualified by B's
/// name alone (<c>B.SomeType</c>, which resolves from inside <c>Root.A</c>). Files in the root namespace
/// itself are the folder "(root)". Plain <c>//</c> comments are ignored; doc comments count (crefs are references).
/// </summary>
/// <remarks>No test-framework types: another test project can link this file
/// (<c>&lt;Compile Include="…/Architecture/FolderDependencies.cs" Link="Architecture/FolderDependencies.cs" /&gt;</c>).</remarks>
public static partial class FolderDependencies
{
    public const string RootFolder = "(root)";

    /// <summary>Folder → the folders it uses → one file that makes the edge (relative to <paramref name="sourceDirectory"/>).</summary>
    public static SortedDictionary<string, SortedDictionary<string, string>> Graph(string sourceDirectory, string rootNamespace)
    {
        var files = Directory.EnumerateFiles(sourceDirectory, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Select(path => (Path: Path.GetRelativePath(sourceDirectory, path), Text: LineComment().Replace(File.ReadAllText(path), "")))
            .Select(file => (file.Path, file.Text, Folder: FolderOf(NamespaceDeclaration().Match(file.Text), rootNamespace)))
            .Where(file => file.Folder is not null)
            .OrderBy(file => file.Path, StringComparer.Ordinal)
            .ToList();
        var graph = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var file in files) graph.TryAdd(file.Folder!, new(StringComparer.Ordinal));
        var typesByFolder = files.GroupBy(file => file.Folder!)
            .ToDictionary(g => g.Key, g => g.SelectMany(file => TypeDeclaration().Matches(file.Text).Select(m => m.Groups[1].Value)).ToHashSet());

        var qualified = new Regex(@"(?<![\w.])" + Regex.Escape(rootNamespace) + @"\.(\w+)");
        foreach (var (path, text, folder) in files)
        {
            var body = NamespaceDeclaration().Replace(text, "");
            var used = qualified.Matches(body).Select(m => m.Groups[1].Value).Where(graph.ContainsKey)
                .Concat(PartlyQualified().Matches(body)
                    .Where(m => typesByFolder.TryGetValue(m.Groups[1].Value, out var types) && types.Contains(m.Groups[2].Value))
                    .Select(m => m.Groups[1].Value));
            foreach (var target in used)
                if (target != folder) graph[folder!].TryAdd(target, path);
        }
        return graph;
    }

    /// <summary>The folders of every cycle (strongly connected components of more than one folder), each sorted.</summary>
    public static List<List<string>> Cycles(SortedDictionary<string, SortedDictionary<string, string>> graph)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var cycles = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            foreach (var w in graph[v].Keys)
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (stack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string popped;
            do component.Add(popped = stack.Pop()); while (popped != v);
            if (component.Count > 1) cycles.Add(component.Order(StringComparer.Ordinal).ToList());
        }
        foreach (var v in graph.Keys) if (!index.ContainsKey(v)) Visit(v);
        return cycles;
    }

    /// <summary>
    /// Empty when the folders are acyclic; otherwise, for each cycle, its folders and one closed path through
    /// them with the file behind each step (e.g. "Flux → Runtime (Flux/RelationAdapterModel.cs) → Flux (…)").
    /// </summary>
    public static string DescribeCycles(string sourceDirectory, string rootNamespace)
    {
        var graph = Graph(sourceDirectory, rootNamespace);
        return string.Join(Environment.NewLine, Cycles(graph).Select(cycle =>
        {
            var path = ShortestPathBack(graph, cycle[0], cycle.ToHashSet());
            var steps = path.Zip(path.Skip(1), (from, to) => $" → {to} ({graph[from][to]})");
            return $"cycle among {string.Join(", ", cycle)}: {cycle[0]}{string.Concat(steps)}";
        }));
    }

    /// <summary>Folder → the folders it uses, one line each ("Pipeline → Flux, Imaging, …").</summary>
    public static string Describe(SortedDictionary<string, SortedDictionary<string, string>> graph) =>
        string.Join(Environment.NewLine, graph.Select(node => $"{node.Key} → {(node.Value.Count == 0 ? "nothing" : string.Join(", ", node.Value.Keys))}"));

    /// <summary>A shortest closed path start → … → start through <paramref name="within"/>.</summary>
    static List<string> ShortestPathBack(SortedDictionary<string, SortedDictionary<string, string>> graph, string start, HashSet<string> within)
    {
        var previous = new Dictionary<string, string>();
        var queue = new Queue<string>([start]);
        while (queue.TryDequeue(out var v))
            foreach (var w in graph[v].Keys.Where(within.Contains))
            {
                if (w == start)
                {
                    var path = new List<string> { start };
                    for (var at = v; at != start; at = previous[at]) path.Add(at);
                    path.Add(start);
                    path.Reverse();
                    return path;
                }
                if (previous.TryAdd(w, v)) queue.Enqueue(w);
            }
        return [start];
    }

    static string? FolderOf(Match declaration, string rootNamespace)
    {
        if (!declaration.Success) return null;
        var ns = declaration.Groups[1].Value;
        if (ns == rootNamespace) return RootFolder;
        return ns.StartsWith(rootNamespace + ".", StringComparison.Ordinal) ? ns[(rootNamespace.Length + 1)..].Split('.')[0] : null;
    }

    [GeneratedRegex(@"^\s*namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"(?<![/:])//(?!/).*$", RegexOptions.Multiline)]
    private static partial Regex LineComment();

    [GeneratedRegex(@"\b(?:class|struct|interface|enum|record)\s+(?:class\s+|struct\s+)?(\w+)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"(?<![\w.])(\w+)\.(\w+)\b")]
    private static partial Regex PartlyQualified();
}
