using System.Security.Cryptography;

namespace RelationAdapter.Core.Weights;

/// <summary>
/// What tells weights apart for a tool that must not mix runs: a file by its content, a model folder (tens of
/// gigabytes) by the names and sizes of its files. Hidden files and times are left out: a git checkout, a download
/// tool's own files or a copy change them without changing the model.
/// </summary>
public static class ModelFiles
{
    public static string FileFingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string FolderFingerprint(string directory)
    {
        var root = new DirectoryInfo(directory);
        return string.Join(';', root.EnumerateFiles("*", SearchOption.AllDirectories)
            .Select(file => (Relative: Path.GetRelativePath(root.FullName, file.FullName), file.Length))
            .Where(file => !file.Relative.Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
            .Select(file => $"{file.Relative}:{file.Length}")
            .Order(StringComparer.Ordinal));
    }
}
