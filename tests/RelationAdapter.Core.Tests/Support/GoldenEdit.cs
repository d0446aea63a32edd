using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Weights;
using RelationAdapter.TestKit;

namespace RelationAdapter.Core.Tests.Support;

/// <summary>A pipeline golden case ready to run on the CPU in float32: its file, the models, the pipeline and the request it describes.</summary>
public sealed class GoldenEdit : IDisposable
{
    readonly GoldenRequest _request;

    public SafetensorsFile File { get; }
    public GoldenModels Models { get; } = new(GoldenSet.Resolve, ModuleOptions.CpuFloat32);
    public RelationEditPipeline Pipeline { get; }
    public EditRequest Request => _request.Request;

    public GoldenEdit(string caseName)
    {
        File = GoldenSet.Case(caseName);
        Pipeline = new RelationEditPipeline(Models.Models);
        _request = new GoldenRequest(File, Models.Models.Adapter.Config.CrossDim);
    }

    public void Dispose()
    {
        _request.Dispose();
        Models.Dispose();
        File.Dispose();
    }
}
