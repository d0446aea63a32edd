using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Client;

/// <summary>
/// clients/kiota, prepared once in a throwaway project outside the repository (so none of its Directory.Build.* apply):
/// the Kiota tool of the folder's manifest restored (dotnet tool restore), two C# clients generated from the committed
/// client document (Json: JSON ranked first, so POST /v1/edits takes the typed EditJson; Multipart: multipart ranked
/// first, so it takes Kiota's MultipartBody), and the check program compiled with them, nullable on and warnings as errors.
/// </summary>
public sealed class KiotaClient : IAsyncLifetime
{
    public static string Source { get; } = Repository.File("clients", "kiota");

    readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("ra-kiota-");

    public string Dotnet { get; } = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet"
        ? host : Processes.Find("dotnet") ?? "dotnet";

    public string Project => _root.FullName;

    /// <summary>What each generation's content types are: its --structured-mime-types, first ranked highest.</summary>
    public static readonly Dictionary<string, string[]> Clients = new()
    {
        ["Json"] = ["application/json", "text/plain;q=0.9"],
        ["Multipart"] = ["multipart/form-data", "application/json;q=0.9", "text/plain;q=0.5"],
    };

    public List<ProcessResult> Generations { get; } = [];
    public ProcessResult Build { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var restore = await Processes.RunAsync(Dotnet, ["tool", "restore"], Source, TimeSpan.FromMinutes(3));
        Assert.True(restore.ExitCode == 0, $"the Kiota tool did not restore: {restore}");
        foreach (var (name, mimeTypes) in Clients)
        {
            Generations.Add(await Processes.RunAsync(Dotnet,
                [
                    "kiota", "generate", "--language", "CSharp", "--openapi", Repository.File("openapi", "relation-adapter.v1.client.json"),
                    "--output", Path.Combine(Project, "Generated", name), "--class-name", $"RelationAdapter{name}Client",
                    "--namespace-name", $"RelationAdapter.Kiota.{name}", "--exclude-backward-compatible",
                    .. mimeTypes.SelectMany(type => new[] { "--structured-mime-types", type }),
                ],
                Source, TimeSpan.FromMinutes(2), new Dictionary<string, string?> { ["KIOTA_CLI_TELEMETRY_OPTOUT"] = "true" }));
            if (Generations[^1].ExitCode != 0) return;
        }
        foreach (var file in new[] { "RelationAdapter.KiotaCheck.csproj", "Program.cs" })
            File.Copy(Path.Combine(Source, file), Path.Combine(Project, file));
        Build = await Processes.RunAsync(Dotnet, ["build", "-c", "Release", "-o", Path.Combine(Project, "out"), "-nologo"], Project, TimeSpan.FromMinutes(5));
    }

    public Task DisposeAsync()
    {
        _root.Delete(recursive: true);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Kiota's C# clients, generated from the committed document in the test with no hand-written type for the API, compile
/// strictly and drive a whole edit against the service on a real socket: multipart (with an Idempotency-Key through
/// Kiota's request headers), the event stream, the download, JSON with data: URIs, the listing by its status enum, and
/// problems thrown as the document's types with their members.
/// </summary>
[Trait("Category", "Service")]
public class KiotaClientTests(KiotaClient kiota) : IClassFixture<KiotaClient>
{
    void AssertBuilt()
    {
        Assert.All(kiota.Generations, generation => Assert.True(generation.ExitCode == 0, generation.ToString()));
        Assert.Equal(KiotaClient.Clients.Count, kiota.Generations.Count);
        Assert.True(kiota.Build.ExitCode == 0, kiota.Build.ToString());
    }

    [Fact]
    public void Both_clients_generate_with_the_server_and_compile_with_the_check_program_under_warnings_as_errors()
    {
        AssertBuilt();
        Assert.All(kiota.Generations, generation => Assert.DoesNotContain("No server url found", generation.Output, StringComparison.Ordinal));
        var edits = (string name) => File.ReadAllText(Path.Combine(kiota.Project, "Generated", name, "V1", "Edits", "EditsRequestBuilder.cs"));
        Assert.Contains("PostAsync(MultipartBody body", edits("Multipart"), StringComparison.Ordinal);
        Assert.Contains("Models.EditJson body", edits("Json"), StringComparison.Ordinal);
        Assert.Contains("Models.JobStatus? Status", edits("Multipart"), StringComparison.Ordinal); // the listing's filter is an enum
    }

    [Fact]
    public async Task The_check_program_drives_an_edit_as_multipart_and_as_json_with_events_and_problems()
    {
        AssertBuilt();
        await using var service = await KestrelService.StartAsync();
        var photos = Directory.CreateTempSubdirectory("ra-kiota-photos-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "before.png"), Api.Before);
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "after.png"), Api.After);
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "source.png"), Api.Source);

            var run = await Processes.RunAsync(kiota.Dotnet, [Path.Combine(kiota.Project, "out", "RelationAdapter.KiotaCheck.dll"), service.Address.ToString(), photos.FullName],
                kiota.Project, TimeSpan.FromMinutes(2));

            Assert.True(run.ExitCode == 0, run.ToString());
            foreach (var check in new[] { "ok multipart:", "ok events: status", "ok download:", "ok json:", "ok listing:", "ok not-found:", "ok validation:", "ok conflict:", "all checks passed" })
                Assert.True(run.Output.Contains(check, StringComparison.Ordinal), $"the check program did not print '{check}': {run}");
        }
        finally
        {
            photos.Delete(recursive: true);
        }
    }
}
