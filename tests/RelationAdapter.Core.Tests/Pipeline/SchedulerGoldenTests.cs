using System.Text.RegularExpressions;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Pipeline;

[Trait("Category", "Golden")]
public class SchedulerGoldenTests
{
    [SkippableFact]
    public void Every_schedule_in_the_set_matches()
    {
        using var file = GoldenSet.Case("scheduler");
        var config = DiffusersConfig.Read<SchedulerConfig>(GoldenSet.Resolve("model/scheduler/scheduler_config.json"));
        var cases = file.Keys.Select(k => Regex.Match(k, @"^sigmas_(\d+)_(\d+)$")).Where(m => m.Success).ToList();
        Assert.NotEmpty(cases);
        foreach (var match in cases)
        {
            var steps = int.Parse(match.Groups[1].Value);
            var sequence = int.Parse(match.Groups[2].Value);
            var scheduler = FlowMatchEulerScheduler.Create(config, steps, sequence);
            using var sigmas = file.Read(match.Value);
            using var timesteps = file.Read($"timesteps_{steps}_{sequence}");
            Assert.Equal(sigmas.data<float>().ToArray(), scheduler.Sigmas.ToArray());
            Assert.Equal(timesteps.data<float>().ToArray(), scheduler.Timesteps.ToArray());
            Assert.Equal(0f, scheduler.Sigmas[^1]);
        }
    }

    [Fact]
    public void Euler_step_moves_by_sigma_difference()
    {
        var scheduler = FlowMatchEulerScheduler.Create(new SchedulerConfig(), 4, 512);
        using var x = ones(2, 3);
        using var v = full(2, 3, 2f);
        using var next = scheduler.Step(v, 0, x);
        var expected = 1f + (scheduler.Sigmas[1] - scheduler.Sigmas[0]) * 2f;
        Assert.All(next.data<float>().ToArray(), value => Assert.Equal(expected, value, 6));
    }

    [Fact]
    public void Mu_grows_with_the_sequence_length()
    {
        var config = new SchedulerConfig();
        Assert.Equal(0.5, FlowMatchEulerScheduler.Mu(config, 256), 12);
        Assert.Equal(1.15, FlowMatchEulerScheduler.Mu(config, 4096), 12);
    }
}
