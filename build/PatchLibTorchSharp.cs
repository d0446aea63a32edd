// Compiled by MSBuild's RoslynCodeTaskFactory (netstandard2.0: no spans) (see build/NativeTorch.targets) and by the Core tests.
// libLibTorchSharp.so 0.107 is linked against GCC 13's libstdc++ and records a need for the
// version GLIBCXX_3.4.32, for the single symbol std::ios_base_library_init(). GCC 13 only emits
// that reference to pin the library version (no relocation uses it), so on hosts with an older
// libstdc++ (Debian 12) the need can be made weak and the symbol unversioned, in place.
using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class PatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    public const string MissingVersion = "GLIBCXX_3.4.32";

    /// <summary>The libLibTorchSharp.so files to patch (copies in the output folder, never the package cache).</summary>
    [Required] public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Candidate paths of the host's libstdc++.so.6; the first existing one decides.</summary>
    [Required] public string[] HostLibStdCxxCandidates { get; set; } = Array.Empty<string>();

    public override bool Execute()
    {
        var host = HostLibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (host is null)
        {
            Log.LogMessage(MessageImportance.Low, "No libstdc++.so.6 found on this host; LibTorchSharp left as shipped.");
            return true;
        }
        if (HostProvides(host, MissingVersion))
        {
            Log.LogMessage(MessageImportance.Low, $"{host} provides {MissingVersion}; LibTorchSharp left as shipped.");
            return true;
        }
        foreach (var item in Libraries)
        {
            var path = item.ItemSpec;
            if (!File.Exists(path)) continue;
            var changed = ElfVersionPatcher.MakeVersionNeedWeak(path, MissingVersion);
            Log.LogMessage(MessageImportance.Normal,
                changed ? $"Patched {path}: {MissingVersion} need made weak for {host}." : $"{path} already patched.");
        }
        return true;
    }

    public static bool HostProvides(string libStdCxxPath, string version)
    {
        var needle = Encoding.ASCII.GetBytes(version + "\0");
        var bytes = File.ReadAllBytes(libStdCxxPath);
        for (var i = 0; i + needle.Length <= bytes.Length; i++)
        {
            var j = 0;
            while (j < needle.Length && bytes[i + j] == needle[j]) j++;
            if (j == needle.Length) return true;
        }
        return false;
    }
}

/// <summary>In-place edits of an ELF64 little-endian shared object's symbol-version tables.</summary>
public static class ElfVersionPatcher
{
    const uint ShtDynsym = 11, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
    const ushort VerFlagWeak = 0x2, VersionGlobal = 1;

    /// <summary>
    /// Marks the need for <paramref name="version"/> weak and resets every symbol bound to it to the
    /// global version. Returns false when nothing was left to change.
    /// </summary>
    public static bool MakeVersionNeedWeak(string path, string version)
    {
        var elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException($"{path}: not an ELF file.");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{path}: only 64-bit little-endian ELF is supported.");

        var sectionOffset = (long)U64(elf, 0x28);
        int sectionSize = U16(elf, 0x3a), sectionCount = U16(elf, 0x3c);
        long verneed = -1, versym = -1, dynsym = -1, dynsymSize = 0, verneedStrings = -1;
        int verneedCount = 0;
        for (var i = 0; i < sectionCount; i++)
        {
            var header = sectionOffset + (long)i * sectionSize;
            var type = U32(elf, header + 4);
            var offset = (long)U64(elf, header + 0x18);
            if (type == ShtGnuVerneed)
            {
                verneed = offset;
                verneedCount = (int)U32(elf, header + 0x2c); // sh_info: number of entries
                var link = (int)U32(elf, header + 0x28);
                verneedStrings = (long)U64(elf, sectionOffset + (long)link * sectionSize + 0x18);
            }
            else if (type == ShtGnuVersym) versym = offset;
            else if (type == ShtDynsym) { dynsym = offset; dynsymSize = (long)U64(elf, header + 0x20); }
        }
        if (verneed < 0 || versym < 0 || dynsym < 0)
            throw new InvalidDataException($"{path}: no symbol-version tables found.");

        var changed = false;
        var versionIndex = -1;
        var need = verneed;
        for (var n = 0; n < verneedCount; n++)
        {
            var auxCount = U16(elf, need + 2);
            var aux = need + U32(elf, need + 8);
            for (var a = 0; a < auxCount; a++)
            {
                var name = CString(elf, verneedStrings + U32(elf, aux + 8));
                if (name == version)
                {
                    var flags = U16(elf, aux + 4);
                    if ((flags & VerFlagWeak) == 0) { W16(elf, aux + 4, (ushort)(flags | VerFlagWeak)); changed = true; }
                    versionIndex = U16(elf, aux + 6);
                }
                aux += U32(elf, aux + 12);
            }
            need += U32(elf, need + 12);
        }
        if (versionIndex < 0) return false;

        var symbolCount = dynsymSize / 24;
        for (var s = 0; s < symbolCount; s++)
        {
            var entry = versym + s * 2;
            if ((U16(elf, entry) & 0x7fff) == versionIndex) { W16(elf, entry, VersionGlobal); changed = true; }
        }
        if (changed)
        {
            var temp = path + ".patching";
            File.WriteAllBytes(temp, elf);
            File.Copy(temp, path, overwrite: true);
            File.Delete(temp);
        }
        return changed;
    }

    static ushort U16(byte[] b, long o) => BitConverter.ToUInt16(b, checked((int)o));
    static uint U32(byte[] b, long o) => BitConverter.ToUInt32(b, checked((int)o));
    static ulong U64(byte[] b, long o) => BitConverter.ToUInt64(b, checked((int)o));
    static void W16(byte[] b, long o, ushort v) { b[o] = (byte)v; b[o + 1] = (byte)(v >> 8); }

    static string CString(byte[] b, long o)
    {
        var end = Array.IndexOf(b, (byte)0, checked((int)o));
        return Encoding.ASCII.GetString(b, (int)o, end - (int)o);
    }
}
