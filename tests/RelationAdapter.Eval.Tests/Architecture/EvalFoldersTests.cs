using RelationAdapter.Core.Tests.Architecture;

namespace RelationAdapter.Eval.Tests.Architecture;

/// <summary>The tool's folders stack: Terminal → Runs → Judging → Reporting → the command line at the root.</summary>
[Trait("Category", "Eval")]
public class EvalFoldersTests
{
    const string Root = "RelationAdapter.Eval";

    static string Sources()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "RelationAdapter.Service.sln")))
                return Path.Combine(directory.FullName, "src", Root);
        throw new InvalidOperationException("RelationAdapter.Service.sln not found above the test binaries.");
    }

    [Fact]
    public void Eval_folders_have_no_cycles_and_only_the_command_line_knows_them_all()
    {
        var graph = FolderDependencies.Graph(Sources(), Root);
        var cycles = FolderDependencies.DescribeCycles(Sources(), Root);
        Assert.True(cycles.Length == 0, $"{Root}'s folders form a cycle:\n{cycles}\n\n{FolderDependencies.Describe(graph)}");
        Assert.Equal(["Judging", "Reporting", "Runs", "Terminal"], graph.Keys.Where(k => k != FolderDependencies.RootFolder));
        foreach (var folder in new[] { "Terminal", "Runs", "Judging", "Reporting" })
            Assert.DoesNotContain(FolderDependencies.RootFolder, graph[folder].Keys);
        Assert.Empty(graph["Terminal"]);
        Assert.DoesNotContain("Reporting", graph["Judging"].Keys);
    }
}
