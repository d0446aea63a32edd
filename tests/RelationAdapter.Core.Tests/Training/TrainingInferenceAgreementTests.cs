using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Training;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Training;

/// <summary>
/// Training learns what inference asks for: the objective's prediction, from the encodings training caches,
/// is the very velocity an edit's denoising step computes for the same tokens and noise level.
/// </summary>
[Trait("Category", "Training")]
public class TrainingInferenceAgreementTests
{
    /// <summary>
    /// A two-step edit: from σ = 1 (the noise) to the scheduler's shifted σ₁, then to 0. Its final latents follow from
    /// the training objective's predictions at both noise levels, given the pipeline's own draws (the source's
    /// posterior sample, then the noise, from the edit's seed): so both lay out the same latents (scaled and
    /// shifted alike, packed alike), position ids, timestep, guidance, prompt and relation tokens.
    /// </summary>
    [Fact]
    public void The_objectives_prediction_is_the_velocity_an_edit_steps_with()
    {
        using var models = ModelFactory.CreateTiny(RuntimeOptions.Cpu);
        using var images = TrainingData.Sample("a", 1);
        var settings = new TrainingSettings();
        using var example = ExampleEncoding.Encode(models.Models, images, settings.MaxSide);
        const long seed = 77;
        using var result = new RelationEditPipeline(models.Models).RunToTensors(new EditRequest
        {
            Source = images.Source, PromptImage = images.PromptImage, ReferenceImage = images.ReferenceImage,
            Settings = new EditSettings { Prompt = images.Text, Steps = 2, Guidance = settings.Guidance, Seed = seed, MaxSide = settings.MaxSide },
        });

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tokens = example.TargetMean.shape[1];
        using var generator = new Generator(seed);
        long[] latentShape = [1, models.Models.Vae.Config.LatentChannels, example.LatentHeight, example.LatentWidth];
        var posteriorDraw = Packing.Pack(randn(latentShape, generator: generator));
        var noise = Packing.Pack(randn(latentShape, generator: generator));
        var condition = example.SourceMean + example.SourceStd * posteriorDraw;

        var objective = new FlowMatchingObjective(models.Models.Transformer, models.Models.Adapter, settings.Guidance, settings.TimestepSampling);
        Tensor Velocity(Tensor x, float sigma) => objective.Predict(example, cat([x, condition], 1), tensor(new[] { sigma })).narrow(1, 0, tokens);
        var sigma1 = FlowMatchEulerScheduler.Create(models.Models.Scheduler, 2, (int)(2 * tokens)).Sigmas[1];
        Assert.InRange(sigma1, 0.05f, 0.95f);
        var halfway = noise + (sigma1 - 1f) * Velocity(noise, 1f);
        var expected = halfway - sigma1 * Velocity(halfway, sigma1);

        var final = result.PackedLatents.narrow(1, 0, tokens);
        var difference = (final - expected).abs().max().item<float>();
        Assert.True(difference < 1e-4f * Math.Max(1f, expected.abs().max().item<float>()),
            $"the edit's final latents differ from the objective's prediction by {difference}");
        // Not trivially equal: the DiT moved the latents away from the noise.
        Assert.True((final - noise).abs().max().item<float>() > 1e-2f);
    }

    /// <summary>
    /// The tiny preset starts in context (<see cref="InContextStart"/>): untrained, its DiT alone (the relation term
    /// off) edits a source toward itself, the starting point the paper's training has in the pretrained in-context
    /// editor; the same sizes drawn at random land nowhere near it.
    /// </summary>
    [Fact]
    public void Untrained_the_tiny_preset_edits_a_source_toward_itself()
    {
        using var images = TrainingData.Sample("s0", 1);
        var settings = new TrainingSettings();
        (double Cosine, double FromSource, double FromTarget) Landing(RandomModelSizes sizes)
        {
            using var models = ModelFactory.CreateRandom(sizes, RuntimeOptions.Cpu, ModelFactory.DefaultTinySeed);
            using var example = ExampleEncoding.Encode(models.Models, images, settings.MaxSide);
            using var result = new RelationEditPipeline(models.Models).RunToTensors(new EditRequest
            {
                Source = images.Source, PromptImage = images.PromptImage, ReferenceImage = images.ReferenceImage,
                Settings = new TrainingValidation(models.Models, settings, Path.GetTempPath()).EditSettingsFor(images.Text) with { AdapterScale = 0 },
            });
            using var scope = NewDisposeScope();
            var final = result.PackedLatents.narrow(1, 0, example.SourceMean.shape[1]);
            double Norm(Tensor x) => linalg.vector_norm(x).item<float>();
            return ((final * example.SourceMean).sum().item<float>() / (Norm(final) * Norm(example.SourceMean)),
                Norm(final - example.SourceMean) / Norm(example.SourceMean), Norm(final - example.TargetMean) / Norm(example.TargetMean));
        }

        var inContext = Landing(RandomModelSizes.Tiny);
        Assert.True(inContext.Cosine > 0.8 && inContext.FromSource < inContext.FromTarget, $"in context: {inContext}");
        var random = Landing(RandomModelSizes.Tiny with { StartsInContext = false });
        Assert.True(Math.Abs(random.Cosine) < 0.3, $"at random: {random}");
    }
}
