using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Browser;

/// <summary>
/// Debian's headless Chromium, which the browser tests drive through Playwright (no browser download).
/// Installed here with apt-get when absent and the tests run as root (as in CI; a failed install fails them);
/// otherwise the tests skip and say how to install it.
/// </summary>
public static class Chromium
{
    public const string Path = "/usr/bin/chromium";

    // Flags for a sandboxed CI machine: no sandbox as root, no GPU, and no background network traffic.
    public static readonly string[] Args =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ];

    static readonly Lazy<string?> Installed = new(Install);

    /// <summary>Null when Chromium is ready, else why it is not.</summary>
    public static string? Unavailable => Installed.Value;

    static string? Install()
    {
        if (File.Exists(Path)) return null;
        if (!Apt.CanInstall) return $"{Path} is missing: install Debian's chromium package (apt-get install chromium).";
        // Installable here (as in CI): a failed install is a failure, not a reason to skip.
        var install = Apt.InstallAsync("chromium").GetAwaiter().GetResult();
        Assert.True(File.Exists(Path), $"apt-get could not install chromium: {install}");
        return null;
    }
}
