using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Tests.Training;
using RelationAdapter.Core.Training;

namespace RelationAdapter.Eval.Tests.Support;

/// <summary>
/// A checkpoint the trainer writes on the tiny preset: a few steps on two synthetic samples (the training tests'
/// <see cref="TrainingData"/>), validated on the first at the end, with the samples as JSON Lines beside it.
/// </summary>
public sealed record TrainedCheckpoint(string Data, string Adapter, string Lora, string SampleId, string SourceImage,
    string PromptImage, string ReferenceImage, string Prompt, string ValidationImage)
{
    /// <summary>A learning rate high enough that four steps visibly move the weights; two validation steps keep the edits quick.</summary>
    public static readonly TrainingSettings Settings = new()
    {
        Rank = 4, LearningRate = 1e-2, Steps = 4, Seed = 7, SaveEvery = 0, ValidateEvery = 0, ValidationSteps = 2,
    };

    /// <param name="seed">Another seed trains another checkpoint on the same samples.</param>
    public static TrainedCheckpoint Create(string folder, long? seed = null)
    {
        var settings = seed is null ? Settings : Settings with { Seed = seed.Value };
        Directory.CreateDirectory(folder);
        var output = Path.Combine(folder, "run");
        var images = new[] { TrainingData.Sample("s0", 1), TrainingData.Sample("s1", 2) };
        var examples = new List<EncodedExample>();
        try
        {
            var data = Path.Combine(folder, "train.jsonl");
            File.WriteAllLines(data, images.Select(sample => TrainingData.WriteRecord(folder, sample)));
            using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu, ModelFactory.DefaultTinySeed);
            examples.AddRange(images.Select(sample => ExampleEncoding.Encode(models.Models, sample, Settings.MaxSide)));
            using (var trainer = new Trainer(models.Models, settings, output, examples, [new ValidationSample(images[0], examples[0])],
                       "synthetic", new TrainingStart()))
                Assert.Equal(TrainingOutcome.Completed, trainer.Run());

            var validation = TrainingValidation.Read(output).Single(score => score.Step == Settings.Steps);
            var checkpoint = Path.Combine(output, TrainingCheckpoints.FinalName);
            var first = images[0];
            return new TrainedCheckpoint(data, Path.Combine(checkpoint, TrainingCheckpoints.AdapterFile), Path.Combine(checkpoint, TrainingCheckpoints.LoraFile),
                first.Id, Path.Combine(folder, $"{first.Id}-source.png"), Path.Combine(folder, $"{first.Id}-cond1.png"),
                Path.Combine(folder, $"{first.Id}-cond2.png"), first.Text, Path.Combine(output, validation.ImagePath));
        }
        finally
        {
            foreach (var example in examples) example.Dispose();
            foreach (var image in images) image.Dispose();
        }
    }
}
