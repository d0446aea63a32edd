using RelationAdapter.Core.Tests.Support;
using RelationAdapter.TestKit;

namespace RelationAdapter.Core.Tests;

/// <summary>The repository carries the golden set (tests/data/golden/tiny-v1), and it is the shared set it was copied from.</summary>
[Trait("Category", "Golden")]
public class GoldenCopyTests
{
    static readonly string Root = GoldenSet.RepositoryRoot() ?? throw new DirectoryNotFoundException("the tests run outside the repository");

    [Fact]
    public void The_repository_copy_equals_the_shared_set_where_both_exist()
    {
        var copy = GoldenCases.RepositoryCopy(Root);
        Assert.True(Directory.Exists(copy), $"{copy} is missing: the repository carries the golden set.");
        var shared = GoldenCases.SharedSet(Root);
        // A clone on its own has nothing to compare with; beside the shared set, the two must not drift apart.
        if (!Directory.Exists(shared)) return;
        var differences = GoldenSet.Differences(copy, shared);
        Assert.True(differences.Count == 0,
            $"{copy} and {shared} differ (copy the shared set again, README included):{Environment.NewLine}{string.Join(Environment.NewLine, differences)}");
    }

    [Fact]
    public void A_changed_an_added_and_a_missing_file_are_differences()
    {
        var one = Directory.CreateTempSubdirectory("golden-one-").FullName;
        var other = Directory.CreateTempSubdirectory("golden-other-").FullName;
        try
        {
            foreach (var root in new[] { one, other })
            {
                Directory.CreateDirectory(Path.Combine(root, "cases"));
                File.WriteAllBytes(Path.Combine(root, "cases", "case.safetensors"), [1, 2, 3, 4]);
                File.WriteAllText(Path.Combine(root, "config.json"), "{}");
            }
            Assert.Empty(GoldenSet.Differences(one, other));

            File.WriteAllBytes(Path.Combine(other, "cases", "case.safetensors"), [1, 2, 3, 5]);
            File.WriteAllText(Path.Combine(other, "extra.json"), "{}");
            File.Delete(Path.Combine(other, "config.json"));

            Assert.Equal(
                [$"only in {one}: config.json", $"only in {other}: extra.json", "differs: cases/case.safetensors"],
                GoldenSet.Differences(one, other));
        }
        finally
        {
            Directory.Delete(one, recursive: true);
            Directory.Delete(other, recursive: true);
        }
    }
}
