using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.TypeScript;

/// <summary>
/// clients/openapi-fetch, prepared once: types generated from the committed document by openapi-typescript (its
/// generate.mjs: Blob for binary, fields with defaults optional, enum values exported) and compiled with tsc --strict
/// together with the check program and its small Server-Sent Events reader.
/// </summary>
public sealed class OpenApiFetchClient : IAsyncLifetime
{
    public NpmClientPackage Package { get; } = new("openapi-fetch");

    public ProcessResult Compilation { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Package.InstallAndGenerateAsync("generate.mjs");
        Compilation = await Package.CompileStrictAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// openapi-typescript's types used through openapi-fetch, with no cast and no hand-written type for the API, drive a
/// whole edit against the service on a real socket: multipart with File parts, the event stream, the download, JSON with
/// data: URIs, the listing by status, and problems with their members.
/// </summary>
[Trait("Category", "TypeScript")]
public class OpenApiFetchClientTests(OpenApiFetchClient openApiFetch) : IClassFixture<OpenApiFetchClient>
{
    [Fact]
    public void The_generated_types_and_the_check_program_compile_under_strict_without_casts()
    {
        Assert.True(openApiFetch.Compilation.ExitCode == 0, openApiFetch.Compilation.ToString());
        var sources = Directory.GetFiles(Path.Combine(openApiFetch.Package.Directory, "src"), "*.ts").Select(File.ReadAllText).ToList();
        Assert.NotEmpty(sources);
        Assert.DoesNotContain(sources, source => source.Contains(" as unknown", StringComparison.Ordinal) || source.Contains(" as any", StringComparison.Ordinal));
        var schema = File.ReadAllText(Path.Combine(openApiFetch.Package.Directory, "src", "generated", "schema.ts"));
        Assert.Contains("source_image: Blob[];", schema, StringComparison.Ordinal); // a file part is a Blob, not a string
    }

    [Fact]
    public async Task The_check_program_drives_an_edit_as_multipart_and_as_json_with_events_and_problems()
    {
        Assert.True(openApiFetch.Compilation.ExitCode == 0, openApiFetch.Compilation.ToString());
        await using var service = await KestrelService.StartAsync();

        var run = await openApiFetch.Package.RunCheckAsync(service.Address);

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var check in new[] { "ok multipart:", "ok events: status", "ok download:", "ok json:", "ok listing:", "ok validation:", "ok not-found:", "ok conflict:", "all checks passed" })
            Assert.True(run.Output.Contains(check, StringComparison.Ordinal), $"the check program did not print '{check}': {run}");
    }
}
