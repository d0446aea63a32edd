using RelationAdapter.Core.Tests.Architecture;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Architecture;

/// <summary>The service's folders stack in floors: Options, Telemetry → Caching, Webhooks → Hosting → Jobs → Redis → Http → Endpoints.</summary>
[Trait("Category", "Unit")]
public class ServiceFoldersTests
{
    const string Root = "RelationAdapter.Service";

    [Fact]
    public void Service_folders_have_no_cycles()
    {
        var sources = Repository.File("src", Root);
        var cycles = FolderDependencies.DescribeCycles(sources, Root);
        Assert.True(cycles.Length == 0,
            $"{Root}'s folders form a cycle:{Environment.NewLine}{cycles}{Environment.NewLine}{Environment.NewLine}Folder graph:{Environment.NewLine}" +
            FolderDependencies.Describe(FolderDependencies.Graph(sources, Root)));
    }

    [Fact]
    public void Jobs_know_nothing_of_http()
    {
        var graph = FolderDependencies.Graph(Repository.File("src", Root), Root);
        Assert.DoesNotContain("Http", graph["Jobs"].Keys);
        Assert.DoesNotContain("Endpoints", graph["Jobs"].Keys);
        Assert.DoesNotContain(File.ReadAllLines(Repository.File("src", Root, "Jobs", "EditJob.cs")), line => line.Contains("Microsoft.AspNetCore"));
    }

    [Fact]
    public void The_endpoints_and_the_worker_do_not_know_which_backend_runs()
    {
        var graph = FolderDependencies.Graph(Repository.File("src", Root), Root);
        foreach (var folder in new[] { "Jobs", "Http", "Endpoints" })
            Assert.DoesNotContain("Redis", graph[folder].Keys);
    }
}
