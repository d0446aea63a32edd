using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Support;

/// <summary>
/// The golden vectors: <c>RA_GOLDEN_DIR</c> when set, else <c>../shared/golden/tiny-v1</c> beside the
/// repository. Tests that need them skip with the reason when neither exists.
/// </summary>
public static class GoldenSet
{
    public static string? Directory { get; } = Locate();

    static string? Locate()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("RA_GOLDEN_DIR");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            return System.IO.Directory.Exists(fromEnvironment) ? Path.GetFullPath(fromEnvironment) : null;
        var root = RepositoryRoot();
        var beside = root is null ? null : Path.GetFullPath(Path.Combine(root, "..", "shared", "golden", "tiny-v1"));
        return beside is not null && System.IO.Directory.Exists(beside) ? beside : null;
    }

    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "RelationAdapter.Service.sln")))
                return dir.FullName;
        return null;
    }

    /// <summary>The absolute path of a file in the set; skips the test when the set is absent.</summary>
    public static string Resolve(string relative)
    {
        Skip.If(Directory is null,
            "Golden vectors not found: set RA_GOLDEN_DIR or place the set at ../shared/golden/tiny-v1 beside the repository.");
        var path = Path.Combine(Directory!, relative);
        Skip.IfNot(File.Exists(path) || System.IO.Directory.Exists(path), $"This golden set has no '{relative}'.");
        return path;
    }

    public static SafetensorsFile Case(string name) => SafetensorsFile.Open(Resolve(Path.Combine("cases", name + ".safetensors")));
}

public static class Close
{
    /// <summary>Relative L2 error ||actual - expected|| / ||expected||, in float64.</summary>
    public static double RelativeL2(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64).cpu();
        var e = expected.to(ScalarType.Float64).cpu();
        Assert.Equal(e.shape, a.shape);
        return (a - e).norm().item<double>() / Math.Max(e.norm().item<double>(), 1e-300);
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
