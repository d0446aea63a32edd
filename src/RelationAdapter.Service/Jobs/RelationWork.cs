using RelationAdapter.Service.Caching;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Service.Jobs;

/// <summary>A request to encode an exemplar pair into relation tokens, served by the worker ahead of edits.</summary>
public sealed class RelationWork(string id, Image<Rgb24> promptImage, Image<Rgb24> referenceImage)
{
    readonly TaskCompletionSource<CachedRelation> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; } = id;
    public Image<Rgb24> PromptImage { get; } = promptImage;
    public Image<Rgb24> ReferenceImage { get; } = referenceImage;
    public Task<CachedRelation> Done => _done.Task;

    public void Complete(CachedRelation relation) => _done.TrySetResult(relation);
    public void Fail(Exception error) => _done.TrySetException(error);
}
