namespace RelationAdapter.Core.Tests.Build;

/// <summary>The build step that lets TorchSharp's native library load against an older libstdc++.</summary>
[Trait("Category", "Unit")]
public class ElfVersionPatcherTests
{
    static string? ShippedLibrary()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                       ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(packages, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        return File.Exists(path) ? path : null;
    }

    [SkippableFact]
    public void Marks_the_glibcxx_3_4_32_need_weak_once_and_changes_only_version_tables()
    {
        var shipped = ShippedLibrary();
        Skip.If(shipped is null, "TorchSharp 0.107.0's package is not in the NuGet cache.");
        var copy = Path.Combine(Directory.CreateTempSubdirectory("ra-elf-").FullName, "libLibTorchSharp.so");
        File.Copy(shipped!, copy);
        try
        {
            Assert.True(ElfVersionPatcher.MakeVersionNeedWeak(copy, PatchLibTorchSharp.MissingVersion));
            Assert.False(ElfVersionPatcher.MakeVersionNeedWeak(copy, PatchLibTorchSharp.MissingVersion), "a second run has nothing to change");

            var before = File.ReadAllBytes(shipped!);
            var after = File.ReadAllBytes(copy);
            Assert.Equal(before.Length, after.Length);
            var changed = Enumerable.Range(0, before.Length).Count(i => before[i] != after[i]);
            Assert.InRange(changed, 2, 6); // the flags of one version need and the version index of one symbol
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
        }
    }

    [Fact]
    public void Host_check_finds_a_version_string_in_libstdcxx()
    {
        var fake = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(fake, [.. "junk\0GLIBCXX_3.4.30\0GLIBCXX_3.4.3\0"u8]);
            Assert.True(PatchLibTorchSharp.HostProvides(fake, "GLIBCXX_3.4.30"));
            Assert.False(PatchLibTorchSharp.HostProvides(fake, "GLIBCXX_3.4.32"));
        }
        finally
        {
            File.Delete(fake);
        }
    }

    [Fact]
    public void Refuses_files_that_are_not_elf()
    {
        var fake = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(fake, new byte[128]);
            Assert.Throws<InvalidDataException>(() => ElfVersionPatcher.MakeVersionNeedWeak(fake, "GLIBCXX_3.4.32"));
        }
        finally
        {
            File.Delete(fake);
        }
    }
}
