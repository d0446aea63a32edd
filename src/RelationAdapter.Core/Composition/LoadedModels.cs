using RelationAdapter.Core.Pipeline;

namespace RelationAdapter.Core.Composition;

/// <summary>Everything an edit needs, loaded once; disposing frees every model.</summary>
public sealed class LoadedModels(EditModels models, string description, string adapterIdentity, bool isPlaceholder,
    IReadOnlyDictionary<string, long> residentBytes, IEnumerable<IDisposable> owned) : IDisposable
{
    public EditModels Models { get; } = models;
    public RelationEditPipeline Pipeline { get; } = new(models);
    public string Description { get; } = description;

    /// <summary>Identifies the adapter weights: relation tokens are only reusable under the same adapter.</summary>
    public string AdapterIdentity { get; } = adapterIdentity;

    /// <summary>True for the tiny random preset: its images are meaningless.</summary>
    public bool IsPlaceholder { get; } = isPlaceholder;

    public IReadOnlyDictionary<string, long> ResidentBytes { get; } = residentBytes;

    public void Dispose()
    {
        foreach (var item in owned) item.Dispose();
    }
}
