using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>
/// Renders kustomizations as <c>kubectl apply -k</c> would send them: with a standalone <c>kustomize</c>, or
/// with the one kubectl embeds. The overlays use components and <c>labels</c>, which need kustomize 4.5
/// (kubectl 1.24) or later; Debian's kubernetes-client (1.20) is older, so nothing is installed here: the
/// tests skip and say what is missing.
/// </summary>
public static class Kustomize
{
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    static readonly Version Minimum = new(4, 5);
    static readonly Lazy<(string? File, string[] Arguments, string? Why)> Tool = new(Find);
    static readonly ConcurrentDictionary<string, Lazy<Task<IReadOnlyList<Manifest>>>> Cache = new();

    /// <summary>Null when a renderer is at hand, else why not.</summary>
    public static string? Unavailable => Tool.Value.Why;

    /// <summary>The objects the kustomization in <paramref name="directory"/> renders (cached per directory).</summary>
    public static Task<IReadOnlyList<Manifest>> RenderAsync(string directory) =>
        Cache.GetOrAdd(Path.GetFullPath(directory), d => new Lazy<Task<IReadOnlyList<Manifest>>>(() => RunAsync(d))).Value;

    static async Task<IReadOnlyList<Manifest>> RunAsync(string directory)
    {
        var (file, arguments, why) = Tool.Value;
        Skip.If(why is not null, why);
        var start = new ProcessStartInfo(file!)
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

    static (string?, string[], string?) Find()
    {
        if (Processes.Find("kustomize") is { } kustomize) return (kustomize, ["build"], null);
        if (Processes.Find("kubectl") is not { } kubectl)
            return (null, [], "neither kustomize nor kubectl is on PATH: install kubectl 1.24 or later (or kustomize 4.5+).");
        var version = Processes.RunAsync(kubectl, ["version", "--client", "-o", "json"], Repository.Root, Timeout).GetAwaiter().GetResult();
        string? embedded = null;
        try
        {
            // The runner merges stderr into the output: take the JSON object alone.
            var text = version.Output;
            using var json = JsonDocument.Parse(text[Math.Max(0, text.IndexOf('{'))..(text.LastIndexOf('}') + 1)]);
            if (json.RootElement.TryGetProperty("kustomizeVersion", out var value)) embedded = value.GetString();
        }
        catch (Exception e) when (e is JsonException or ArgumentOutOfRangeException)
        {
        }
        return Version.TryParse(embedded?.TrimStart('v'), out var parsed) && parsed >= Minimum
            ? (kubectl, ["kustomize"], null)
            : (null, [], $"{kubectl} embeds kustomize {embedded ?? "older than 4.5"}; the overlays need 4.5 or later (kubectl 1.24+), or a standalone kustomize on PATH.");
    }
}
