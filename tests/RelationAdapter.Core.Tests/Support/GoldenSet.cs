using RelationAdapter.Bench;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;
using RelationAdapter.TestKit;

namespace RelationAdapter.Core.Tests.Support;

/// <summary>
/// The golden vectors: <c>RA_GOLDEN_DIR</c> when set, else the repository's copy, <c>tests/data/golden/tiny-v1</c>.
/// A test that needs them fails when the directory is missing, and skips with the reason when another set lacks a file.
/// </summary>
public static class GoldenSet
{
    public static string? Directory { get; } = Locate();

    static string? Locate()
    {
        var directory = GoldenCases.DefaultDirectory(RepositoryRoot());
        return directory is not null && System.IO.Directory.Exists(directory) ? directory : null;
    }

    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RelationAdapter.Service.sln")))
                return dir.FullName;
        return null;
    }

    /// <summary>The absolute path of a file in the set; fails when the set is missing, skips when this set has no such file.</summary>
    public static string Resolve(string relative)
    {
        Assert.True(Directory is not null,
            $"Golden vectors not found at {GoldenCases.DefaultDirectory(RepositoryRoot()) ?? "tests/data/golden/tiny-v1"}: RA_GOLDEN_DIR names a missing directory, or the repository's copy is gone.");
        var path = Path.Combine(Directory!, relative);
        Skip.IfNot(File.Exists(path) || System.IO.Directory.Exists(path), $"This golden set has no '{relative}'.");
        return path;
    }

    /// <summary>
    /// How two sets differ: the files only one holds and those whose bytes differ (paths relative to the sets,
    /// with '/'); empty when they are the same byte for byte.
    /// </summary>
    public static IReadOnlyList<string> Differences(string one, string other)
    {
        var ones = Files(one);
        var others = Files(other);
        return ones.Except(others).Select(path => $"only in {one}: {path}")
            .Concat(others.Except(ones).Select(path => $"only in {other}: {path}"))
            .Concat(ones.Intersect(others).Where(path => !SameBytes(Path.Combine(one, path), Path.Combine(other, path))).Select(path => $"differs: {path}"))
            .ToList();
    }

    static SortedSet<string> Files(string root) =>
        new(System.IO.Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(path => Path.GetRelativePath(root, path).Replace('\\', '/')), StringComparer.Ordinal);

    static bool SameBytes(string one, string other) =>
        new FileInfo(one).Length == new FileInfo(other).Length && File.ReadAllBytes(one).AsSpan().SequenceEqual(File.ReadAllBytes(other));

    public static SafetensorsFile Case(string name) => SafetensorsFile.Open(Resolve(Path.Combine("cases", name + ".safetensors")));
}

public static class Close
{
    /// <summary>Relative L2 error ||actual - expected|| / ||expected||, in float64, of tensors of one shape.</summary>
    public static double RelativeL2(Tensor actual, Tensor expected)
    {
        Assert.Equal(expected.shape, actual.shape);
        return Measure.RelativeL2(actual, expected);
    }

    public static void AssertRelativeL2(Tensor actual, Tensor expected, double tolerance = 1e-4, string what = "output")
    {
        using (var nan = actual.isnan().any()) Assert.False(nan.item<bool>(), $"{what} has NaN");
        var error = RelativeL2(actual, expected);
        Assert.True(error <= tolerance, $"{what}: relative L2 error {error:E3} > {tolerance:E1}");
    }
}

public static class TensorAssertions
{
    /// <summary>Same shape, dtype-compatible and bit-for-bit equal values.</summary>
    public static bool Same(this Tensor actual, Tensor expected)
    {
        if (!actual.shape.SequenceEqual(expected.shape)) return false;
        using var equal = actual.eq(expected);
        using var all = equal.all();
        return all.item<bool>();
    }
}
