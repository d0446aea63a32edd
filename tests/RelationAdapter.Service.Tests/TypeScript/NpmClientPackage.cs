using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.TypeScript;

/// <summary>
/// A client package under clients/ as the TypeScript tests use it: its locked packages installed (npm ci, only when
/// node_modules is older than the committed lock, so one install serves every run), its client generated from the
/// committed document, and everything compiled with tsc --strict.
/// </summary>
public sealed class NpmClientPackage(string name)
{
    public string Directory { get; } = Repository.File("clients", name);

    public string Node { get; private set; } = "";

    /// <summary>Installs the packages, then runs the package's generator (a script under the package, run with node).</summary>
    public async Task InstallAndGenerateAsync(params string[] generator)
    {
        (Node, var npm) = await NodeJs.LocateAsync();
        // npm keeps a copy of the lock it installed in node_modules: missing, or older than the committed lock, means install.
        var installed = new FileInfo(Path.Combine(Directory, "node_modules", ".package-lock.json"));
        if (!installed.Exists || installed.LastWriteTimeUtc < File.GetLastWriteTimeUtc(Path.Combine(Directory, "package-lock.json")))
        {
            var install = await Processes.RunAsync(npm, ["ci"], Directory, TimeSpan.FromMinutes(5), NodeJs.Environment(Node));
            Assert.True(install.ExitCode == 0, install.ToString());
        }
        var generate = await Processes.RunAsync(Node, generator, Directory, TimeSpan.FromMinutes(2), NodeJs.Environment(Node));
        Assert.True(generate.ExitCode == 0, generate.ToString());
    }

    public Task<ProcessResult> CompileStrictAsync() =>
        Processes.RunAsync(Node, [Path.Combine("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json", "--strict"],
            Directory, TimeSpan.FromMinutes(2), NodeJs.Environment(Node));

    /// <summary>Runs dist/check.js against a service on a real socket with the three sample photos; its output.</summary>
    public async Task<ProcessResult> RunCheckAsync(Uri service)
    {
        var photos = System.IO.Directory.CreateTempSubdirectory("ra-ts-photos-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "before.png"), Api.Before);
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "after.png"), Api.After);
            await File.WriteAllBytesAsync(Path.Combine(photos.FullName, "source.png"), Api.Source);
            return await Processes.RunAsync(Node, [Path.Combine("dist", "check.js"), service.ToString(), photos.FullName],
                Directory, TimeSpan.FromMinutes(2), NodeJs.Environment(Node));
        }
        finally
        {
            photos.Delete(recursive: true);
        }
    }
}
