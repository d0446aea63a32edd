using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Tests.Support;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Pipeline;

[Trait("Category", "Golden")]
public class PipelineBehaviourTests
{
    [SkippableFact]
    public void Same_request_and_seed_give_bit_identical_output_and_another_seed_does_not()
    {
        using var edit = new GoldenEdit("pipeline_scale1.0");
        using var scope = NewDisposeScope();
        var pipeline = edit.Pipeline;
        var request = edit.Request;

        using var first = pipeline.RunToTensors(request);
        using var second = pipeline.RunToTensors(request);
        using var otherSeed = pipeline.RunToTensors(request with { Settings = request.Settings with { Seed = request.Settings.Seed + 1 } });

        Assert.True(second.PackedLatents.Same(first.PackedLatents));
        Assert.True(second.Image.Same(first.Image));
        Assert.False(otherSeed.Image.Same(first.Image));
    }

    [SkippableFact]
    public void Cancelling_mid_run_stops_before_the_next_step()
    {
        using var edit = new GoldenEdit("pipeline_scale1.0");
        using var scope = NewDisposeScope();
        var pipeline = edit.Pipeline;
        var request = edit.Request with { Settings = edit.Request.Settings with { Steps = 6 } };
        using var cancellation = new CancellationTokenSource();
        var reported = new List<EditProgress>();
        var progress = new SynchronousProgress<EditProgress>(p =>
        {
            reported.Add(p);
            if (p is { Stage: EditStage.Denoise, Step: 2 }) cancellation.Cancel();
        });

        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.Run(request, progress, cancellation.Token));

        var steps = reported.Where(p => p.Stage == EditStage.Denoise).Select(p => p.Step).ToList();
        Assert.Equal([0, 1, 2], steps);
        Assert.DoesNotContain(reported, p => p.Stage == EditStage.Decode);
    }

    [SkippableFact]
    public void Run_reports_every_step_and_returns_image_seed_size_and_timings()
    {
        using var edit = new GoldenEdit("pipeline_scale1.0");
        using var scope = NewDisposeScope();
        var pipeline = edit.Pipeline;
        var request = edit.Request;
        var steps = new List<int>();

        var result = pipeline.Run(request, new SynchronousProgress<EditProgress>(p => { if (p is { Stage: EditStage.Denoise, Step: > 0 }) steps.Add(p.Step); }));

        Assert.Equal(Enumerable.Range(1, request.Settings.Steps), steps);
        Assert.Equal(request.Settings.Seed, result.Seed);
        Assert.Equal((request.Source.Width, request.Source.Height), (result.Width, result.Height));
        Assert.Equal((result.Width, result.Height), (result.Image.Width, result.Image.Height));
        Assert.Equal(Enum.GetValues<EditStage>().Order(), result.StageTimings.Keys.Order());
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
