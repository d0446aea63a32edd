namespace RelationAdapter.Service.Tests.Support;

/// <summary>
/// Debian packages some tests need (chromium, nodejs, redis-server), installed when missing and the tests run as
/// root (as in CI). One install at a time: test collections run in parallel, and dpkg takes one lock.
/// </summary>
public static class Apt
{
    static readonly SemaphoreSlim OneAtATime = new(1);

    public static bool CanInstall => OperatingSystem.IsLinux() && Environment.UserName == "root" && File.Exists("/usr/bin/apt-get");

    public static async Task<ProcessResult> InstallAsync(params string[] packages)
    {
        var apt = new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" };
        // Another process (or an unattended upgrade) may hold dpkg's lock: wait for it rather than fail.
        string[] waitForLock = ["-o", "DPkg::Lock::Timeout=600"];
        await OneAtATime.WaitAsync();
        try
        {
            await Processes.RunAsync("apt-get", [.. waitForLock, "update", "-qq"], "/", TimeSpan.FromMinutes(10), apt);
            return await Processes.RunAsync("apt-get", [.. waitForLock, "install", "-y", "-qq", .. packages], "/", TimeSpan.FromMinutes(15), apt);
        }
        finally
        {
            OneAtATime.Release();
        }
    }
}
