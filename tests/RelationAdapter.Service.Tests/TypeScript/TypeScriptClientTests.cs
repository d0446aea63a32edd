using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.TypeScript;

/// <summary>
/// clients/typescript, prepared once: its locked packages installed (npm ci), the client generated from the committed
/// document (@hey-api/openapi-ts), the README's TypeScript snippet copied in, and all of it compiled with tsc --strict.
/// </summary>
public sealed class TypeScriptClient : IAsyncLifetime
{
    public static string Directory { get; } = Repository.File("clients", "typescript");

    /// <summary>Where the README's snippet is compiled: beside check.ts, so its './generated/…' imports resolve.</summary>
    public static string ReadmeSnippet { get; } = Path.Combine(Directory, "src", "readme", "snippet.ts");

    public string Node { get; private set; } = "";
    public ProcessResult Compilation { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        (Node, var npm) = await NodeJs.LocateAsync();
        // npm keeps a copy of the lock it installed in node_modules: missing, or older than the committed lock, means install.
        var installed = new FileInfo(Path.Combine(Directory, "node_modules", ".package-lock.json"));
        if (!installed.Exists || installed.LastWriteTimeUtc < File.GetLastWriteTimeUtc(Path.Combine(Directory, "package-lock.json")))
        {
            var install = await Processes.RunAsync(npm, ["ci"], Directory, TimeSpan.FromMinutes(5), NodeJs.Environment(Node));
            Assert.True(install.ExitCode == 0, install.ToString());
        }

        var generate = await Processes.RunAsync(Node, [Path.Combine("node_modules", "@hey-api", "openapi-ts", "bin", "run.js")], Directory, TimeSpan.FromMinutes(2));
        Assert.True(generate.ExitCode == 0, generate.ToString());

        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(ReadmeSnippet)!);
        // The snippet sits one folder down from where the README's imports assume it, as src/readme/snippet.ts.
        var snippet = ReadmeSnippets.Block("OpenAPI document and generated client", "ts").Replace("'./generated/", "'../generated/");
        await File.WriteAllTextAsync(ReadmeSnippet, snippet);

        Compilation = await Processes.RunAsync(Node, [Path.Combine("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--strict"],
            Directory, TimeSpan.FromMinutes(2));
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// A TypeScript client generated from the committed OpenAPI document works with no hand-written type: it compiles
/// under --strict and its check program passes against the service on a real socket.
/// </summary>
[Trait("Category", "TypeScript")]
public class TypeScriptClientTests(TypeScriptClient typeScript) : IClassFixture<TypeScriptClient>
{
    [Fact]
    public void The_generated_client_the_check_program_and_the_README_snippet_compile_under_strict()
    {
        Assert.True(typeScript.Compilation.ExitCode == 0, typeScript.Compilation.ToString());
        Assert.True(File.Exists(Path.Combine(TypeScriptClient.Directory, "dist", "check.js")));
        Assert.True(File.Exists(Path.Combine(TypeScriptClient.Directory, "dist", "readme", "snippet.js")));
    }

    [Fact]
    public async Task The_check_program_creates_polls_downloads_and_reads_problems_against_the_service()
    {
        Assert.True(typeScript.Compilation.ExitCode == 0, typeScript.Compilation.ToString());
        await using var service = await KestrelService.StartAsync();
        var photos = System.IO.Directory.CreateTempSubdirectory("ra-ts-photos-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "before.png"), Api.Before);
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "after.png"), Api.After);
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "source.png"), Api.Source);

            var run = await Processes.RunAsync(typeScript.Node, [Path.Combine("dist", "check.js"), service.Address.ToString(), photos.FullName],
                TypeScriptClient.Directory, TimeSpan.FromMinutes(2));

            Assert.True(run.ExitCode == 0, run.ToString());
            foreach (var check in new[] { "ok create:", "ok poll:", "ok download:", "ok seed: 9007199254740991 came back exactly", "ok validation:", "ok not-found:", "all checks passed" })
                Assert.True(run.Output.Contains(check, StringComparison.Ordinal), $"the check program did not print '{check}': {run}");
        }
        finally
        {
            photos.Delete(recursive: true);
        }
    }
}
