using RelationAdapter.Bench;

namespace RelationAdapter.Core.Tests.Training;

/// <summary><c>bench train</c> on the tiny preset on the CPU, with gradient checkpointing off and on.</summary>
[Trait("Category", "Training")]
public class TrainBenchmarkTests
{
    [Theory]
    [InlineData("false", "checkpointing off")]
    [InlineData("true", "checkpointing on")]
    public void A_training_step_is_timed_with_checkpointing_off_and_on(string checkpointing, string described)
    {
        using var output = new StringWriter();
        Assert.Equal(0, TrainBenchmark.Run(BenchOptions.Parse(["--steps", "2", "--threads", "1", "--checkpointing", checkpointing]), output));
        var text = output.ToString();
        Assert.Contains(described, text);
        Assert.Contains("median step", text);
        Assert.Contains("peak RSS", text);
    }
}
