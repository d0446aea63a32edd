using System.Xml.Linq;
using RelationAdapter.Core.Tests.Support;

namespace RelationAdapter.Core.Tests.Architecture;

/// <summary>The projects reference each other downwards only, and the model's tests build no web service.</summary>
[Trait("Category", "Unit")]
public class ProjectGraphTests
{
    static string Root => GoldenSet.RepositoryRoot() ?? throw new InvalidOperationException("RelationAdapter.Service.sln not found above the test binaries.");

    static Dictionary<string, string[]> Graph() =>
        Directory.GetFiles(Path.Combine(Root, "src"), "*.csproj", SearchOption.AllDirectories)
            .Concat(Directory.GetFiles(Path.Combine(Root, "tests"), "*.csproj", SearchOption.AllDirectories))
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .ToDictionary(path => Path.GetFileNameWithoutExtension(path), path => XDocument.Load(path).Descendants("ProjectReference")
                .Select(reference => Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value.Replace('\\', '/'))).ToArray())!;

    static HashSet<string> Closure(Dictionary<string, string[]> graph, string project)
    {
        var seen = new HashSet<string>();
        var stack = new Stack<string>([project]);
        while (stack.TryPop(out var next))
            foreach (var reference in graph.GetValueOrDefault(next, []))
                if (seen.Add(reference)) stack.Push(reference);
        return seen;
    }

    [Fact]
    public void No_project_reaches_itself()
    {
        var graph = Graph();
        Assert.Contains("RelationAdapter.TestKit", graph.Keys);
        Assert.All(graph.Keys, project => Assert.DoesNotContain(project, Closure(graph, project)));
    }

    [Fact]
    public void The_core_tests_build_no_web_service_and_the_core_knows_no_jobs()
    {
        var graph = Graph();
        var coreTests = Closure(graph, "RelationAdapter.Core.Tests");
        Assert.Contains("RelationAdapter.TestKit", coreTests);
        Assert.DoesNotContain("RelationAdapter.Service", coreTests);
        Assert.DoesNotContain("RelationAdapter.Jobs", coreTests);
        Assert.Empty(Closure(graph, "RelationAdapter.Core"));
        Assert.Equal(["RelationAdapter.Core"], Closure(graph, "RelationAdapter.TestKit"));
    }
}
