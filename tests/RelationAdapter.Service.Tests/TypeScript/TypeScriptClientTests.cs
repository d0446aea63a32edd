using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.TypeScript;

/// <summary>
/// clients/typescript, prepared once: the client generated from the committed document (@hey-api/openapi-ts), the
/// README's TypeScript snippet copied in, and all of it compiled with tsc --strict.
/// </summary>
public sealed class TypeScriptClient : IAsyncLifetime
{
    public NpmClientPackage Package { get; } = new("typescript");

    /// <summary>Where the README's snippet is compiled: beside check.ts, so its './generated/…' imports resolve.</summary>
    public string ReadmeSnippet => Path.Combine(Package.Directory, "src", "readme", "snippet.ts");

    public ProcessResult Compilation { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Package.InstallAndGenerateAsync(Path.Combine("node_modules", "@hey-api", "openapi-ts", "bin", "run.js"));

        Directory.CreateDirectory(Path.GetDirectoryName(ReadmeSnippet)!);
        // The snippet sits one folder down from where the README's imports assume it, as src/readme/snippet.ts.
        var snippet = ReadmeSnippets.Block("OpenAPI document and generated client", "ts").Replace("'./generated/", "'../generated/");
        await File.WriteAllTextAsync(ReadmeSnippet, snippet);

        Compilation = await Package.CompileStrictAsync();
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
        Assert.True(File.Exists(Path.Combine(typeScript.Package.Directory, "dist", "check.js")));
        Assert.True(File.Exists(Path.Combine(typeScript.Package.Directory, "dist", "readme", "snippet.js")));
    }

    [Fact]
    public async Task The_check_program_creates_polls_downloads_and_reads_problems_against_the_service()
    {
        Assert.True(typeScript.Compilation.ExitCode == 0, typeScript.Compilation.ToString());
        await using var service = await KestrelService.StartAsync();

        var run = await typeScript.Package.RunCheckAsync(service.Address);

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var check in new[] { "ok create:", "ok poll:", "ok download:", "ok seed: 9007199254740991 came back exactly", "ok validation:", "ok not-found:", "all checks passed" })
            Assert.True(run.Output.Contains(check, StringComparison.Ordinal), $"the check program did not print '{check}': {run}");
    }
}
