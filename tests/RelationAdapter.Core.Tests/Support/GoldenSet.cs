using RelationAdapter.Bench;
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
