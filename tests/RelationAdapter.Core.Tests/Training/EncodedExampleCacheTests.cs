using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Training;

namespace RelationAdapter.Core.Tests.Training;

/// <summary><c>--cache-dir</c>: encoder outputs stored once and read back exactly, never across models, and a damaged entry encoded again.</summary>
[Trait("Category", "Training")]
public class EncodedExampleCacheTests
{
    [Fact]
    public void Entries_are_reused_per_input_and_model_and_a_damaged_one_is_encoded_again()
    {
        using var temp = new TempFolder();
        using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu);
        using var sample = TrainingData.Sample("s0", 1);
        var cache = new EncodedExampleCache(temp.Path, "model a");
        string[] Entries() => Directory.GetFiles(temp.Path);

        using var encoded = cache.GetOrEncode(models.Models, sample, 32);
        var entry = Assert.Single(Entries());
        using (var read = cache.GetOrEncode(models.Models, sample, 32))
            AssertSame(encoded, read);
        Assert.Single(Entries());

        using (new EncodedExampleCache(temp.Path, "model b").GetOrEncode(models.Models, sample, 32)) { }
        Assert.Equal(2, Entries().Length);

        File.WriteAllBytes(entry, File.ReadAllBytes(entry)[..100]);
        using (var again = cache.GetOrEncode(models.Models, sample, 32))
            AssertSame(encoded, again);
        Assert.True(new FileInfo(entry).Length > 100, "the damaged entry is written again");
        using (var read = cache.GetOrEncode(models.Models, sample, 32))
            AssertSame(encoded, read);
    }

    static void AssertSame(EncodedExample expected, EncodedExample actual)
    {
        Assert.Equal((expected.LatentHeight, expected.LatentWidth), (actual.LatentHeight, actual.LatentWidth));
        foreach (var ((name, left), (_, right)) in expected.Tensors.Zip(actual.Tensors))
            Assert.True(left.Same(right), $"{name} differs");
    }
}
