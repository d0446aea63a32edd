using System.Text.Json.Nodes;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Metrics;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Vision;
using RelationAdapter.Core.Weights;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Encoders;

/// <summary>The CLIP image tower and CLIP-I against <c>clip/cases/clip_vision</c> (five drawn pictures through transformers' CLIPModel).</summary>
[Trait("Category", "Golden")]
public class ClipVisionGoldenTests
{
    static SafetensorsFile Case() => SafetensorsFile.Open(GoldenSet.Resolve("clip/cases/clip_vision.safetensors"));

    static ClipVisionModel LoadModel() => VisionLoading.LoadClipVision(GoldenSet.Resolve("clip"), ModuleOptions.CpuFloat32);

    static List<Image<Rgb24>> Pictures()
    {
        var manifest = JsonNode.Parse(File.ReadAllText(GoldenSet.Resolve("clip/cases/clip_vision.json")))!;
        var names = manifest["images"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.NotEmpty(names);
        return names.Select(name => ImageCodec.Decode(File.ReadAllBytes(GoldenSet.Resolve(Path.Combine("clip", "cases", name))))).ToList();
    }

    [SkippableFact]
    public void Hidden_states_pooled_output_embeddings_and_clip_i_match_from_the_golden_pixels()
    {
        using var file = Case();
        using var scope = NewDisposeScope();
        using var model = LoadModel();
        var (last, pooled, embeds) = model.forward(file.Read("pixel_values"));
        Close.AssertRelativeL2(last, file.Read("last_hidden_state"), what: "last_hidden_state");
        Close.AssertRelativeL2(pooled, file.Read("pooler_output"), what: "pooler_output");
        Close.AssertRelativeL2(embeds, file.Read("image_embeds"), what: "image_embeds");
        var unit = nn.functional.normalize(embeds, dim: -1);
        Close.AssertRelativeL2(ClipImageSimilarity.Matrix(unit, unit), file.Read("clip_i"), what: "clip_i");
    }

    [SkippableFact]
    public void Own_preprocessing_of_the_pictures_stays_close_to_the_golden_pixels_and_clip_i()
    {
        using var file = Case();
        using var scope = NewDisposeScope();
        using var model = LoadModel();
        var processor = ClipImageProcessor.Read(GoldenSet.Resolve("clip/preprocessor_config.json"));
        var pictures = Pictures();
        try
        {
            var expectedPixels = file.Read("pixel_values");
            var pixels = processor.Preprocess(pictures);
            Assert.Equal(expectedPixels.shape, pixels.shape);
            for (var i = 0; i < pictures.Count; i++)
            {
                var meanAbs = (pixels[i] - expectedPixels[i]).abs().mean().item<float>();
                Assert.True(meanAbs < 0.02f, $"picture {i}: mean absolute difference {meanAbs:F4} ≥ 0.02");
            }

            var embeddings = new ClipImageSimilarity(model, processor).Embed(pictures);
            var worst = (ClipImageSimilarity.Matrix(embeddings, embeddings) - file.Read("clip_i")).abs().max().item<float>();
            Assert.True(worst < 5e-3f, $"CLIP-I differs by up to {worst:E2} ≥ 5e-3");
        }
        finally
        {
            foreach (var picture in pictures) picture.Dispose();
        }
    }
}
