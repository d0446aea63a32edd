using System.Xml.Linq;
using RelationAdapter.Core.Tests.Architecture;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Architecture;

/// <summary>
/// The service is organised by feature (Edits, Relations, Idempotency, Webhooks, Worker over Platform) above the
/// job lifecycle (RelationAdapter.Jobs, no web host), with the Redis backend a plug-in project beside it.
/// </summary>
[Trait("Category", "Unit")]
public class ServiceFoldersTests
{
    const string Service = "RelationAdapter.Service", Jobs = "RelationAdapter.Jobs", Redis = "RelationAdapter.Jobs.Redis";
    static readonly string[] Features = ["Edits", "Idempotency", "Platform", "Relations", "Webhooks", "Worker"];

    [Theory]
    [InlineData(Service)]
    [InlineData(Jobs)]
    public void Folders_have_no_cycles(string project)
    {
        var sources = Repository.File("src", project);
        var cycles = FolderDependencies.DescribeCycles(sources, project);
        Assert.True(cycles.Length == 0,
            $"{project}'s folders form a cycle:{Environment.NewLine}{cycles}{Environment.NewLine}{Environment.NewLine}Folder graph:{Environment.NewLine}" +
            FolderDependencies.Describe(FolderDependencies.Graph(sources, project)));
    }

    [Fact]
    public void The_service_is_organised_by_feature_over_a_platform_that_knows_none()
    {
        var folders = Directory.GetDirectories(Repository.File("src", Service)).Select(Path.GetFileName)
            .Where(name => name is not ("bin" or "obj" or "wwwroot")).Order().ToArray();
        Assert.Equal(Features, folders);
        var graph = FolderDependencies.Graph(Repository.File("src", Service), Service);
        Assert.Empty(graph["Platform"].Keys.Intersect(Features));
        Assert.DoesNotContain("Edits", graph["Worker"].Keys);
        Assert.DoesNotContain("Relations", graph["Worker"].Keys);
    }

    [Fact]
    public void Only_the_redis_project_knows_redis_and_only_the_composition_root_picks_it()
    {
        foreach (var project in Directory.GetFiles(Repository.File("src"), "*.csproj", SearchOption.AllDirectories))
            if (Path.GetFileNameWithoutExtension(project) != Redis)
                Assert.DoesNotContain("StackExchange.Redis", PackagesOf(project));
        Assert.Contains("StackExchange.Redis", PackagesOf(Repository.File("src", Redis, $"{Redis}.csproj")));

        var naming = Directory.GetFiles(Repository.File("src", Service), "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && File.ReadAllText(file).Contains(Redis))
            .Select(Path.GetFileName);
        Assert.Equal(["JobsRegistration.cs"], naming);
    }

    [Fact]
    public void The_job_lifecycle_knows_no_web_host_and_no_backend_above_it()
    {
        var project = XDocument.Load(Repository.File("src", Jobs, $"{Jobs}.csproj"));
        Assert.Equal("Microsoft.NET.Sdk", project.Root!.Attribute("Sdk")!.Value);
        Assert.Empty(project.Descendants("FrameworkReference"));
        Assert.Equal(["RelationAdapter.Core"], project.Descendants("ProjectReference")
            .Select(reference => Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value)));
        Assert.Equal([Jobs], XDocument.Load(Repository.File("src", Redis, $"{Redis}.csproj")).Descendants("ProjectReference")
            .Select(reference => Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value)));
        foreach (var file in Directory.GetFiles(Repository.File("src", Jobs), "*.cs", SearchOption.AllDirectories))
            Assert.DoesNotContain(File.ReadAllLines(file), line => line.Contains("Microsoft.AspNetCore") || line.Contains("RelationAdapter.Service."));
    }

    static IEnumerable<string> PackagesOf(string project) =>
        XDocument.Load(project).Descendants("PackageReference").Select(reference => reference.Attribute("Include")!.Value);
}
