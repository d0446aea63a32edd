using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Eval.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.TestKit;

namespace RelationAdapter.Eval.Tests;

/// <summary>The training tool's checkpoint over the tiny preset, in <c>eval run --preset tiny --adapter --lora</c> and in the service.</summary>
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
        var model = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(withCheckpoint, "run.json")))!["model"]!.GetValue<string>();
        Assert.Contains(Path.GetFileName(trained.Adapter), model);
        Assert.Contains(Path.GetFileName(trained.Lora), model);
    }

    /// <summary>Another checkpoint written over the same paths makes the folder's predictions stale: the rerun is refused, not resumed.</summary>
    [Fact]
    public async Task A_rerun_after_the_checkpoint_files_were_overwritten_is_refused_and_the_same_files_resume()
    {
        var trained = TrainedCheckpoint.Create(Path.Combine(_root, "training"));
        var other = TrainedCheckpoint.Create(Path.Combine(_root, "other-training"), seed: TrainedCheckpoint.Settings.Seed + 1);
        Assert.NotEqual(File.ReadAllBytes(trained.Adapter), File.ReadAllBytes(other.Adapter));
        var checkpoint = Path.Combine(_root, "ckpt");
        Directory.CreateDirectory(checkpoint);
        var (adapter, lora) = (Path.Combine(checkpoint, "adapter.safetensors"), Path.Combine(checkpoint, "pytorch_lora_weights.safetensors"));
        void Install(TrainedCheckpoint source)
        {
            File.Copy(source.Adapter, adapter, overwrite: true);
            File.Copy(source.Lora, lora, overwrite: true);
        }
        var output = Path.Combine(_root, "runs", "trained");
        string[] Run() => ["run", "--data", trained.Data, "--out", output, "--preset", "tiny", "--device", "cpu", "--steps", "2", "--adapter", adapter, "--lora", lora];

        Install(trained);
        Assert.Contains("2 predicted", await Cli.SucceedAsync(Run()));
        var prediction = Path.Combine(output, "pred", trained.SampleId + ".png");
        var predicted = File.ReadAllBytes(prediction);

        Install(other);
        var (exit, refused) = await Cli.RunAsync(Run());
        Assert.Equal(2, exit);
        Assert.Contains("another model", refused);
        Assert.Contains("use another --out", refused);
        Assert.Equal(predicted, File.ReadAllBytes(prediction));

        Install(trained); // the same content again, written anew: the run resumes
        Assert.Contains("all 2 predictions are there", await Cli.SucceedAsync(Run()));
    }

    /// <summary>
    /// The service as a process with <c>Model:Preset=tiny</c> and the checkpoint's files as <c>Model:AdapterPath</c> and
    /// <c>Model:LoraPath</c>, edited over real HTTP with the validation's inputs and settings, draws the validation image.
    /// </summary>
    [Fact]
    public async Task The_service_with_a_trained_checkpoint_serves_the_trainers_validation_image()
    {
        var trained = TrainedCheckpoint.Create(Path.Combine(_root, "training"));
        var settings = TrainedCheckpoint.Settings;
        await using var service = await ServiceProcess.StartAsync(new Dictionary<string, string>
        {
            ["Model:AdapterPath"] = trained.Adapter,
            ["Model:LoraPath"] = trained.Lora,
        });

        using var form = new MultipartFormDataContent();
        foreach (var (name, value) in new Dictionary<string, string>
                 {
                     ["prompt"] = trained.Prompt,
                     ["steps"] = settings.ValidationSteps.ToString(CultureInfo.InvariantCulture),
                     ["guidance"] = settings.Guidance.ToString(CultureInfo.InvariantCulture),
                     ["seed"] = settings.ValidationSeed.ToString(CultureInfo.InvariantCulture),
                     ["max_side"] = settings.MaxSide.ToString(CultureInfo.InvariantCulture),
                     ["output_format"] = "png",
                 })
            form.Add(new StringContent(value), name);
        foreach (var (name, path) in new[] { ("source_image", trained.SourceImage), ("prompt_image", trained.PromptImage), ("reference_image", trained.ReferenceImage) })
        {
            var file = new ByteArrayContent(File.ReadAllBytes(path));
            file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            form.Add(file, name, Path.GetFileName(path));
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = form };
        request.Headers.Add("Prefer", "wait=50");
        using var response = await service.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}\n{service.Output}");
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(settings.ValidationSeed.ToString(CultureInfo.InvariantCulture), response.Headers.GetValues("X-Seed").Single());

        using var served = ImageCodec.Decode(await response.Content.ReadAsByteArrayAsync());
        using var validation = Load(trained.ValidationImage);
        Assert.Equal(validation.Size(), served.Size());
        Assert.True(ImageMetrics.Mse(validation, served) == 0, "the served edit differs from the trainer's validation image");
    }

    static Image<Rgb24> Load(string path) => ImageCodec.Decode(File.ReadAllBytes(path));
}
