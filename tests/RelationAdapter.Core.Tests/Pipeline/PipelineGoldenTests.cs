using RelationAdapter.Core.Tests.Support;
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

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Edit_matches_the_reference(string caseName)
    {
        using var edit = new GoldenEdit(caseName);
        using var scope = NewDisposeScope();
        var file = edit.File;

        using var output = edit.Pipeline.RunToTensors(edit.Request);

        Close.AssertRelativeL2(output.PackedLatents, file.Read("packed_latents"), what: "packed latents");
        Close.AssertRelativeL2(output.Image, file.Read("image"), what: "image");
        Assert.Equal(int.Parse(file.Metadata["height"]), output.Image.shape[2]);
        Assert.Equal(int.Parse(file.Metadata["width"]), output.Image.shape[3]);
    }
}
