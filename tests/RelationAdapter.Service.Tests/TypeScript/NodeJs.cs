using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.TypeScript;

/// <summary>
/// node and npm for the TypeScript client tests. Installed with apt-get (Debian's nodejs and npm) when absent and
/// the tests run as root, as in CI; the tests fail, never skip, when they still cannot be found or node is older
/// than the generator supports.
/// </summary>
public static class NodeJs
{
    /// <summary>@hey-api/openapi-ts 0.99 refuses to run on older node.</summary>
    public const int MinimumMajorVersion = 20;

    static readonly Lazy<Task<(string Node, string Npm)>> Installed = new(InstallAsync);

    /// <summary>The paths of node and npm.</summary>
    public static Task<(string Node, string Npm)> LocateAsync() => Installed.Value;

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
            "node and npm are needed for the TypeScript client tests: install Debian's nodejs and npm packages (apt-get install nodejs npm) or node " + MinimumMajorVersion + "+.");

        var version = await Processes.RunAsync(node, ["--version"], "/", TimeSpan.FromSeconds(30));
        var major = int.Parse(version.Output.Trim().TrimStart('v').Split('.')[0]);
        Assert.True(major >= MinimumMajorVersion, $"{node} is {version.Output.Trim()}; the TypeScript client's generator needs node {MinimumMajorVersion} or newer.");
        return (node, npm);
    }
}
