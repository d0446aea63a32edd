using System.Globalization;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Pipeline;

[Trait("Category", "Golden")]
public class PipelineGoldenTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        var folder = GoldenSet.Directory is null ? null : Path.Combine(GoldenSet.Directory, "cases");
        var names = folder is not null && Directory.Exists(folder)
            ? Directory.GetFiles(folder, "pipeline_scale*.safetensors").Select(Path.GetFileNameWithoutExtension).Order().ToList()
            : [];
        foreach (var name in names.DefaultIfEmpty("pipeline_scale1.0")) data.Add(name!);
        return data;
    }

    internal static EditRequest RequestFor(SafetensorsFile file, PromptEmbedding prompt, Tensor relationTokens)
    {
        var meta = file.Metadata;
        using var sourceBytes = file.Read("source_uint8");
        return new EditRequest
        {
            Source = ImageTensors.FromHwcBytes(sourceBytes),
            PromptEmbedding = prompt,
            RelationTokens = relationTokens,
            Steps = int.Parse(meta["steps"]),
            Guidance = double.Parse(meta["guidance_scale"], CultureInfo.InvariantCulture),
            AdapterScale = double.Parse(meta["adapter_scale"], CultureInfo.InvariantCulture),
            Seed = long.Parse(meta["seed"]),
            MaxSide = Math.Max(int.Parse(meta["height"]), int.Parse(meta["width"])),
        };
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Edit_matches_the_reference(string caseName)
    {
        using var file = GoldenSet.Case(caseName);
        using var models = new GoldenModels();
        using var scope = NewDisposeScope();
        var pipeline = new RelationEditPipeline(models.Models);
        var prompt = new PromptEmbedding(file.Read("prompt_embeds"), file.Read("pooled_prompt_embeds"));
        var tokens = file.Read("image_emb").reshape(1, -1, models.Models.Adapter.Config.CrossDim);

        using var output = pipeline.RunToTensors(RequestFor(file, prompt, tokens));

        Close.AssertRelativeL2(output.PackedLatents, file.Read("packed_latents"), what: "packed latents");
        Close.AssertRelativeL2(output.Image, file.Read("image"), what: "image");
        Assert.Equal(int.Parse(file.Metadata["height"]), output.Image.shape[2]);
        Assert.Equal(int.Parse(file.Metadata["width"]), output.Image.shape[3]);
    }
}
