using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Weights;
using SixLabors.ImageSharp;
using Size = SixLabors.ImageSharp.Size;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Training;

/// <summary>A validation sample: its images (edited by the pipeline) and its encodings (the target's latents, the prompt).</summary>
public sealed record ValidationSample(TrainingImages Images, EncodedExample Encoded);

/// <summary>One validation edit's scores.</summary>
/// <param name="LatentRelativeL2">‖final latents − target latents‖ / ‖target latents‖ (noise half after the last step vs the target's posterior mean).</param>
/// <param name="PixelMse">The evaluation's MSE of the edited image and the target (<see cref="ImageMetrics.Mse"/>).</param>
/// <param name="ClipI">The evaluation's CLIP-I of the edited image and the target (<see cref="ClipImageSimilarity"/>), when a CLIP model is given.</param>
public sealed record ValidationScore(int Step, string Id, double LatentRelativeL2, double? LatentRelativeL2Untrained, double PixelMse, string ImagePath,
    double? ClipI = null);

/// <summary>
/// Edits every validation sample with the model as it stands, through the edit pipeline and the path the
/// service takes: the adapter's weights as they are, the LoRA fused into the DiT from the very tensors a
/// checkpoint stores (and unfused again afterwards, restoring the base weights bit for bit). Each edit
/// draws from its own seed, never from the training's generators. Each validation also draws one picture,
/// <c>validation/step-N.png</c>: a row per sample with A, A′, B, the target B′ and the edit.
/// </summary>
/// <param name="clip">Scores CLIP-I as the evaluation does; null: no CLIP-I.</param>
public sealed class TrainingValidation(EditModels models, TrainingSettings settings, string outputDirectory, ClipImageSimilarity? clip = null)
{
    public const string FileName = "validation.jsonl";
    /// <summary>The long side of a cell of the validation picture at most (smaller edits keep their size).</summary>
    const int MaxCellSide = 256;

    /// <summary>The picture of the validation at <paramref name="step"/>.</summary>
    public static string RowImagePath(string outputDirectory, int step) =>
        Path.Combine(outputDirectory, "validation", TrainingCheckpoints.StepName(step) + ".png");

    public IReadOnlyList<ValidationScore> Run(int step, IReadOnlyList<ValidationSample> samples, TransformerLora? lora,
        IReadOnlyDictionary<string, double>? untrained)
    {
        if (samples.Count == 0) return [];
        using var _ = no_grad();
        var restore = lora is null ? null : FuseForInference(lora);
        try
        {
            var pipeline = new RelationEditPipeline(models);
            var folder = Path.Combine(outputDirectory, "validation", TrainingCheckpoints.StepName(step));
            Directory.CreateDirectory(folder);
            var edits = new List<(ValidationScore Score, Image<Rgb24> Edited)>();
            try
            {
                foreach (var sample in samples) edits.Add(Edit(pipeline, step, sample, folder, untrained));
                WriteRow(step, samples, edits.Select(e => e.Edited).ToList());
                return edits.Select(e => e.Score).ToList();
            }
            finally
            {
                foreach (var (_, edited) in edits) edited.Dispose();
            }
        }
        finally
        {
            restore?.Invoke();
        }
    }

    (ValidationScore Score, Image<Rgb24> Edited) Edit(RelationEditPipeline pipeline, int step, ValidationSample sample, string folder,
        IReadOnlyDictionary<string, double>? untrained)
    {
        using var scope = NewDisposeScope();
        var images = sample.Images;
        var request = new EditRequest
        {
            Source = images.Source,
            PromptImage = images.PromptImage,
            ReferenceImage = images.ReferenceImage,
            PromptEmbedding = new PromptEmbedding(sample.Encoded.PromptHiddenStates, sample.Encoded.PromptPooled),
            Settings = EditSettingsFor(images.Text),
        };
        using var result = pipeline.RunToTensors(request);
        var target = sample.Encoded.TargetMean;
        var final = result.PackedLatents.narrow(1, 0, target.shape[1]).to(ScalarType.Float64);
        var relativeL2 = (linalg.vector_norm(final - target.to(ScalarType.Float64)) / linalg.vector_norm(target.to(ScalarType.Float64))).item<double>();

        if (!double.IsFinite(relativeL2))
            throw new InvalidDataException($"validation of '{images.Id}' at step {step}: the edit's latents are not finite (the model overflows: check --guidance, --alpha and --lr).");
        var path = Path.Combine(folder, images.Id + ".png");
        var image = ImageTensors.FromUnitNchw(result.Image);
        try
        {
            File.WriteAllBytes(path, ImageCodec.Encode(image, OutputFormat.Png));
            // Untrained: this edit at step 0; a run resumed into another folder never saw step 0, so it records none.
            double? untrainedDistance = untrained is null ? relativeL2 : untrained.TryGetValue(images.Id, out var before) ? before : null;
            var score = new ValidationScore(step, images.Id, relativeL2, untrainedDistance,
                ImageMetrics.Mse(image, images.Target), Path.GetRelativePath(outputDirectory, path).Replace('\\', '/'), clip?.Score(image, images.Target));
            return (score, image);
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>The validation's picture: a row per sample (A, A′, B, B′, the edit), cells of the first edit's size.</summary>
    void WriteRow(int step, IReadOnlyList<ValidationSample> samples, IReadOnlyList<Image<Rgb24>> edits)
    {
        var first = edits[0];
        var scale = Math.Min(1.0, (double)MaxCellSide / Math.Max(first.Width, first.Height));
        var cell = new Size(Math.Max(1, (int)Math.Round(first.Width * scale)), Math.Max(1, (int)Math.Round(first.Height * scale)));
        var rows = samples.Select((sample, i) =>
            (IReadOnlyList<Image<Rgb24>>)[sample.Images.PromptImage, sample.Images.ReferenceImage, sample.Images.Source, sample.Images.Target, edits[i]]).ToList();
        using var picture = ImageGrid.Rows(rows, cell);
        File.WriteAllBytes(RowImagePath(outputDirectory, step), ImageCodec.Encode(picture, OutputFormat.Png));
    }

    /// <summary>The settings of a validation edit: what the service would run for the same request and seed.</summary>
    public EditSettings EditSettingsFor(string prompt) => new()
    {
        Prompt = prompt,
        Steps = settings.ValidationSteps,
        Guidance = settings.Guidance,
        Seed = settings.ValidationSeed,
        MaxSide = settings.MaxSide,
    };

    /// <summary>Fuses the LoRA as a loader fuses its file; returns the undo.</summary>
    Action FuseForInference(TransformerLora lora)
    {
        var transformer = models.Transformer;
        var weights = transformer.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var originals = lora.Branches.Select(b => (Weight: weights[b.Module + ".weight"], Copy: weights[b.Module + ".weight"].detach().clone())).ToList();
        var released = lora.ReleasedLayout();
        lora.Detach();
        try
        {
            LoraFuser.Fuse(transformer, new InMemoryTensors(released.ToDictionary(t => t.Name, t => t.Tensor), "the trained LoRA"));
        }
        finally
        {
            foreach (var (_, tensor) in released) tensor.Dispose();
        }
        return () =>
        {
            using (no_grad())
                foreach (var (weight, copy) in originals)
                {
                    weight.copy_(copy);
                    copy.Dispose();
                }
            lora.Attach();
        };
    }

    public void Append(IEnumerable<ValidationScore> scores)
    {
        var lines = scores.Select(s => new JsonObject
        {
            ["step"] = s.Step,
            ["id"] = s.Id,
            ["latent_rel_l2"] = s.LatentRelativeL2,
            ["latent_rel_l2_untrained"] = s.LatentRelativeL2Untrained,
            ["mse"] = s.PixelMse,
            ["clip_i"] = s.ClipI,
            ["image"] = s.ImagePath,
        }.ToJsonString());
        File.AppendAllLines(Path.Combine(outputDirectory, FileName), lines);
    }

    /// <summary>The rows of <see cref="FileName"/> (an absent file has none).</summary>
    public static IReadOnlyList<ValidationScore> Read(string outputDirectory) => Rows(outputDirectory).Select(r => r.Score).ToList();

    /// <summary>Keeps the rows up to <paramref name="step"/> (a resumed run rewrites what came after its checkpoint).</summary>
    public static void TruncateAfter(string outputDirectory, int step)
    {
        var path = Path.Combine(outputDirectory, FileName);
        if (File.Exists(path)) File.WriteAllLines(path, Rows(outputDirectory).Where(r => r.Score.Step <= step).Select(r => r.Line));
    }

    /// <summary>
    /// The rows with their lines. A last line that is not a row is one a run killed while appending left half written,
    /// and is passed over; any other is an error, never silently dropped.
    /// </summary>
    static List<(string Line, ValidationScore Score)> Rows(string outputDirectory)
    {
        var path = Path.Combine(outputDirectory, FileName);
        if (!File.Exists(path)) return [];
        var lines = File.ReadAllLines(path).Where(line => !string.IsNullOrWhiteSpace(line)).ToList();
        var rows = new List<(string, ValidationScore)>();
        for (var i = 0; i < lines.Count; i++)
        {
            if (Parse(lines[i]) is { } score) rows.Add((lines[i], score));
            else if (i < lines.Count - 1) throw new InvalidDataException($"{path}: line {i + 1} is not a validation row.");
        }
        return rows;
    }

    static ValidationScore? Parse(string line)
    {
        JsonObject? row;
        try
        {
            row = JsonNode.Parse(line) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
        if (row?["step"] is not JsonValue step || row["id"] is not JsonValue id || row["latent_rel_l2"] is not JsonValue distance
            || row["mse"] is not JsonValue mse || row["image"] is not JsonValue image)
            return null;
        return new ValidationScore(step.GetValue<int>(), id.GetValue<string>(), distance.GetValue<double>(), row["latent_rel_l2_untrained"]?.GetValue<double>(),
            mse.GetValue<double>(), image.GetValue<string>(), row["clip_i"]?.GetValue<double>());
    }
}
