using System.Globalization;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Eval.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Eval.Tests;

/// <summary><c>eval run --preset tiny --adapter --lora</c>: the training tool's checkpoint over the tiny preset.</summary>
[Trait("Category", "Eval")]
public sealed class TrainedCheckpointTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ra-eval-trained-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_trained_checkpoint_changes_the_predictions_to_what_the_trainers_validation_drew()
    {
        var trained = TrainedCheckpoint.Create(Path.Combine(_root, "training"));
        var settings = TrainedCheckpoint.Settings;
        string[] Run(string output, params string[] more) =>
        [
            "run", "--data", trained.Data, "--out", output, "--preset", "tiny", "--device", "cpu",
            "--steps", settings.ValidationSteps.ToString(CultureInfo.InvariantCulture), "--seed", settings.ValidationSeed.ToString(CultureInfo.InvariantCulture),
            "--guidance", settings.Guidance.ToString(CultureInfo.InvariantCulture), "--max-side", settings.MaxSide.ToString(CultureInfo.InvariantCulture), .. more,
        ];
        var untrained = Path.Combine(_root, "runs", "untrained");
        var withCheckpoint = Path.Combine(_root, "runs", "trained");
        await Cli.SucceedAsync(Run(untrained));
        await Cli.SucceedAsync(Run(withCheckpoint, "--adapter", trained.Adapter, "--lora", trained.Lora));

        using var before = Load(Path.Combine(untrained, "pred", trained.SampleId + ".png"));
        using var after = Load(Path.Combine(withCheckpoint, "pred", trained.SampleId + ".png"));
        using var validation = Load(trained.ValidationImage);
        Assert.True(ImageMetrics.Mse(before, after) > 0, "the checkpoint did not change the prediction");
        Assert.Equal(validation.Size(), after.Size());
        Assert.True(ImageMetrics.Mse(validation, after) == 0, "eval run with the checkpoint differs from the trainer's validation image");
    }

    static Image<Rgb24> Load(string path) => ImageCodec.Decode(File.ReadAllBytes(path));
}
