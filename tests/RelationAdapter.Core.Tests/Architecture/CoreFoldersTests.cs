using RelationAdapter.Core.Tests.Support;

namespace RelationAdapter.Core.Tests.Architecture;

/// <summary>Core's folders stack in floors: no folder uses, directly or through others, a folder that uses it.</summary>
[Trait("Category", "Unit")]
public class CoreFoldersTests
{
    const string Root = "RelationAdapter.Core";

    static string Sources => Path.Combine(GoldenSet.RepositoryRoot() ?? throw new InvalidOperationException("RelationAdapter.Service.sln not found above the test binaries."),
        "src", Root);

    [Fact]
    public void Core_folders_have_no_cycles()
    {
        var cycles = FolderDependencies.DescribeCycles(Sources, Root);
        Assert.True(cycles.Length == 0,
            $"{Root}'s folders form a cycle:{Environment.NewLine}{cycles}{Environment.NewLine}{Environment.NewLine}Folder graph:{Environment.NewLine}" +
            FolderDependencies.Describe(FolderDependencies.Graph(Sources, Root)));
    }

    [Fact]
    public void A_cycle_is_found_through_usings_full_names_and_names_qualified_by_folder()
    {
        var dir = Directory.CreateTempSubdirectory("folder-deps-").FullName;
        try
        {
            void Write(string path, string text)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dir, path))!);
                File.WriteAllText(Path.Combine(dir, path), text);
            }
            Write("Low/Thing.cs", "namespace App.Low;\npublic sealed class Thing { }\n");
            Write("Mid/Model.cs", "using App.Low;\n// App.Top.Factory in a comment is no reference\nnamespace App.Mid;\npublic sealed class Model { }\n");
            Write("Top/Factory.cs", "using static App.Mid.Model;\nnamespace App.Top;\npublic static class Factory { }\n");
            Write("obj/Generated.cs", "using App.Top;\nnamespace App.Low;\n");
            Assert.Equal("", FolderDependencies.DescribeCycles(dir, "App"));
            Assert.Equal(string.Join(Environment.NewLine, "Low → nothing", "Mid → Low", "Top → Mid"),
                FolderDependencies.Describe(FolderDependencies.Graph(dir, "App")));

            Write("Low/Full.cs", "namespace App.Low;\nsealed class Full { global::App.Top.Factory? f; }\n");
            Assert.Equal("cycle among Low, Mid, Top: Low → Top (Low/Full.cs) → Mid (Top/Factory.cs) → Low (Mid/Model.cs)",
                FolderDependencies.DescribeCycles(dir, "App"));

            File.Delete(Path.Combine(dir, "Low/Full.cs"));
            Write("Low/Partly.cs", "namespace App.Low;\nsealed class Partly { Mid.Model? m; }\n");
            Assert.Equal("cycle among Low, Mid: Low → Mid (Low/Partly.cs) → Low (Mid/Model.cs)", FolderDependencies.DescribeCycles(dir, "App"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
