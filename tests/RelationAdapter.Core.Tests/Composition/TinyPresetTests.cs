using RelationAdapter.Bench;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Core.Tests.Composition;

[Trait("Category", "Unit")]
public class TinyPresetTests
{
    [Fact]
    public void Tiny_preset_edits_from_images_and_text_deterministically()
    {
        using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu);
        Assert.True(models.IsPlaceholder);
        var request = new EditRequest
        {
            Source = EditBenchmark.Gradient(80, 48),
            PromptImage = EditBenchmark.Gradient(60, 40, 10),
            ReferenceImage = EditBenchmark.Gradient(60, 40, 90),
            Settings = new EditSettings { Prompt = "make it blue", Steps = 3 },
        };

        var first = models.Pipeline.Run(request);
        var second = models.Pipeline.Run(request);

        Assert.Equal((80, 48), (first.Width, first.Height));
        Assert.Equal((80, 48), (first.Image.Width, first.Image.Height));
        Assert.True(ImagesEqual(first.Image, second.Image));
        Assert.Equal(6, models.ResidentBytes.Count);
        Assert.All(models.ResidentBytes.Values, bytes => Assert.True(bytes > 0));
    }

    [Fact]
    public void A_repeated_edit_leaves_no_tensor_behind()
    {
        using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu);
        var request = new EditRequest
        {
            Source = EditBenchmark.Gradient(64, 48), PromptImage = EditBenchmark.Gradient(40, 40, 3), ReferenceImage = EditBenchmark.Gradient(40, 40, 9),
            Settings = new EditSettings { Prompt = "warm the cache", Steps = 2 },
        };
        models.Pipeline.Run(request).Image.Dispose();
        var live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 5; i++) models.Pipeline.Run(request with { Settings = request.Settings with { Seed = i } }).Image.Dispose();
        Assert.Equal(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Prompt_cache_reuses_embeddings_of_a_repeated_prompt()
    {
        using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu);
        var cache = Assert.IsType<CachingPromptEncoder>(models.Models.PromptEncoder);
        var first = cache.Encode("add a hat");
        var again = cache.Encode("add a hat");
        cache.Encode("remove the hat");
        Assert.Same(first, again);
        Assert.Equal(1, cache.Hits);
        Assert.Equal(2, cache.Misses);
    }

    internal static bool ImagesEqual(Image<Rgb24> a, Image<Rgb24> b)
    {
        if (a.Size() != b.Size()) return false;
        var pa = new byte[a.Width * a.Height * 3];
        var pb = new byte[pa.Length];
        a.CopyPixelDataTo(pa);
        b.CopyPixelDataTo(pb);
        return pa.AsSpan().SequenceEqual(pb);
    }
}
