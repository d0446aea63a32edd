using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Tests.Support;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Flux;

[Trait("Category", "Golden")]
public class FirstBlockCacheTests
{
    /// <summary>Runs the golden case's denoising loop by hand with an optional cache; returns every step's velocity.</summary>
    static List<Tensor> Velocities(GoldenEdit edit, FirstBlockCache? cache, int steps)
    {
        var transformer = edit.Models.Models.Transformer;
        var file = edit.File;
        var relation = edit.Models.Models.Adapter.Project(edit.Request.RelationTokens!, transformer.Config.NumAttentionHeads, [1.0]);
        var packed = file.Read("packed_latents");
        var tokens = packed.shape[1];
        var hw = (long)Math.Sqrt(tokens / 2);
        var ids = Packing.ClonedImageIds(2 * hw, 2 * hw);
        if (ids.shape[0] != tokens) ids = zeros(tokens, 3);
        using var job = transformer.Prepare(edit.Request.PromptEmbedding!.HiddenStates, edit.Request.PromptEmbedding.Pooled, full([1], 3.5f),
            zeros(edit.Request.PromptEmbedding.HiddenStates.shape[1], 3), ids, relation);
        var latents = randn(packed.shape, generator: new Generator(1));
        var velocities = new List<Tensor>();
        for (var i = 0; i < steps; i++)
        {
            var velocity = transformer.forward(latents, full([1], 1f - i / (float)steps), job, cache);
            velocities.Add(velocity);
            latents = latents - velocity / steps;
        }
        return velocities;
    }

    [SkippableFact]
    public void Threshold_zero_computes_every_step_bit_identically_to_no_cache()
    {
        using var edit = new GoldenEdit("pipeline_scale1.0");
        using var scope = NewDisposeScope();
        using var cache = new FirstBlockCache(0);

        var plain = Velocities(edit, null, 5);
        var cached = Velocities(edit, cache, 5);

        for (var i = 0; i < plain.Count; i++) Assert.True(cached[i].Same(plain[i]), $"step {i} differs");
        Assert.Equal((5, 0), (cache.ComputedSteps, cache.ReusedSteps));
        Assert.True(cache.LastRelativeChange > 0);
    }

    [SkippableFact]
    public void A_high_threshold_reuses_every_step_after_the_first_and_the_result_differs()
    {
        using var edit = new GoldenEdit("pipeline_scale1.0");
        using var scope = NewDisposeScope();
        var request = edit.Request with { Settings = edit.Request.Settings with { Steps = 6 } };

        using var exact = edit.Pipeline.RunToTensors(request);
        using var threshold0 = edit.Pipeline.RunToTensors(request with { Settings = request.Settings with { CacheThreshold = 0 } });
        using var reused = edit.Pipeline.RunToTensors(request with { Settings = request.Settings with { CacheThreshold = 1e6 } });

        Assert.Equal(new DenoiseSteps(6, 0), exact.Steps);
        Assert.True(threshold0.PackedLatents.Same(exact.PackedLatents));
        Assert.Equal(new DenoiseSteps(1, 5), reused.Steps);
        Assert.False(reused.PackedLatents.isnan().any().item<bool>());
        Assert.False(reused.PackedLatents.Same(exact.PackedLatents));
    }

    [SkippableFact]
    public void Raising_the_threshold_reuses_more_steps_and_moves_further_from_the_exact_result()
    {
        using var edit = new GoldenEdit("pipeline_scale1.0");
        using var scope = NewDisposeScope();
        var request = edit.Request with { Settings = edit.Request.Settings with { Steps = 8 } };
        using var exact = edit.Pipeline.RunToTensors(request);

        // A random model's first-block residual changes by tens of percent per step: sweep finely up to where everything is reused.
        var runs = Enumerable.Range(0, 10).Select(i => 0.25 * Math.Pow(2, i / 3.0)).Select(threshold =>
        {
            using var run = edit.Pipeline.RunToTensors(request with { Settings = request.Settings with { CacheThreshold = threshold } });
            return (run.Steps, Error: Close.RelativeL2(run.PackedLatents, exact.PackedLatents));
        }).ToList();

        Assert.All(runs, r => Assert.Equal(8, r.Steps.Computed + r.Steps.Reused));
        for (var i = 1; i < runs.Count; i++) Assert.True(runs[i].Steps.Reused >= runs[i - 1].Steps.Reused);
        var partial = runs.Where(r => r.Steps.Reused is > 0 and < 7).ToList();
        Assert.True(partial.Count > 0, string.Join("; ", runs.Select(r => $"{r.Steps} {r.Error:E2}")));
        Assert.All(partial, r => Assert.True(r.Error > 0 && r.Error < runs[^1].Error, $"{r.Steps}: {r.Error:E2} vs {runs[^1].Error:E2} when reusing most"));
    }

    [Fact]
    public void A_negative_threshold_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FirstBlockCache(-0.1));
    }
}
