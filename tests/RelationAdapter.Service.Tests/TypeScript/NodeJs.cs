using System.Runtime.InteropServices;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.TypeScript;

/// <summary>
/// node and npm for the TypeScript client tests. npm comes from the machine (Debian's nodejs and npm, installed with
/// apt-get when absent and the tests run as root, as in CI). When the machine's node is older than the generators need
/// (Debian 12 ships 18), npm installs the pinned node of npm's registry (its binary package) into a folder of its own,
/// which every node and npm command of these tests then runs with, first on PATH. The tests fail, never skip, when
/// neither can be had.
/// </summary>
public static class NodeJs
{
    /// <summary>@hey-api/openapi-ts and its dependencies declare node &gt;= 22.18.</summary>
    public static readonly Version Minimum = new(22, 18, 0);

    /// <summary>The node installed when the machine's is older: a 22 LTS release (the binary package, no install script).</summary>
    const string PinnedVersion = "22.23.3";

    static readonly Lazy<Task<(string Node, string Npm)>> Installed = new(InstallAsync);

    /// <summary>The paths of node (at least <see cref="Minimum"/>) and npm.</summary>
    public static Task<(string Node, string Npm)> LocateAsync() => Installed.Value;

    /// <summary>What npm and node commands run with: this node first on PATH (npm and package scripts start `node`), npm quiet.</summary>
    public static Dictionary<string, string?> Environment(string node) => new()
    {
        ["PATH"] = Path.GetDirectoryName(node) + Path.PathSeparator + System.Environment.GetEnvironmentVariable("PATH"),
        ["npm_config_update_notifier"] = "false",
        ["npm_config_fund"] = "false",
        ["npm_config_audit"] = "false",
    };

    static async Task<(string Node, string Npm)> InstallAsync()
    {
        if ((Processes.Find("node") is null || Processes.Find("npm") is null) && Apt.CanInstall)
        {
            var install = await Apt.InstallAsync("nodejs", "npm");
            Assert.True(install.ExitCode == 0, $"apt-get could not install nodejs and npm: {install}");
        }
        var node = Processes.Find("node");
        var npm = Processes.Find("npm");
        Assert.True(node is not null && npm is not null,
            $"node and npm are needed for the TypeScript client tests: install Debian's nodejs and npm packages (apt-get install nodejs npm) or node {Minimum}+.");
        if (await VersionAsync(node) >= Minimum) return (node, npm);

        var package = $"node-linux-{(RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "x64")}@{PinnedVersion}";
        var prefix = Path.Combine(Path.GetTempPath(), "ra-" + package.Replace('@', '-'));
        var pinned = Path.Combine(prefix, "node_modules", package[..package.IndexOf('@')], "bin", "node");
        if (!File.Exists(pinned))
        {
            var install = await Processes.RunAsync(npm, ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", package], "/",
                TimeSpan.FromMinutes(5));
            Assert.True(install.ExitCode == 0 && File.Exists(pinned), $"{node} is older than {Minimum}, and npm could not install {package}: {install}");
        }
        var version = await VersionAsync(pinned);
        Assert.True(version >= Minimum, $"{pinned} is {version}; the generators need node {Minimum} or newer.");
        return (pinned, npm);
    }

    static async Task<Version> VersionAsync(string node)
    {
        var printed = await Processes.RunAsync(node, ["--version"], "/", TimeSpan.FromSeconds(30));
        Assert.True(printed.ExitCode == 0, printed.ToString());
        Assert.True(Version.TryParse(printed.Output.Trim().TrimStart('v'), out var version), $"`{node} --version` printed {printed.Output}");
        return version;
    }
}
