using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Jobs.Relations;

/// <summary>An exemplar pair (padded for the image encoder) waiting to be encoded, and the callers waiting for it.</summary>
public sealed class RelationWork(string id, Image<Rgb24> paddedPromptImage, Image<Rgb24> paddedReferenceImage, IDisposable? place = null)
{
    readonly TaskCompletionSource<CachedRelation> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the queue that took the work does once it is done (forget it as in flight, acknowledge it).</summary>
    public Action<RelationWork>? Finished { get; set; }

    public string Id { get; } = id;
    public Image<Rgb24> PaddedPromptImage { get; } = paddedPromptImage;
    public Image<Rgb24> PaddedReferenceImage { get; } = paddedReferenceImage;
    public Task<CachedRelation> Done => _done.Task;

    public void Complete(CachedRelation relation) => _done.TrySetResult(relation);
    public void Fail(Exception error) => _done.TrySetException(error);

    /// <summary>The work is done, refused or joined another's: its images and admission place are released.</summary>
    public void Finish()
    {
        PaddedPromptImage.Dispose();
        PaddedReferenceImage.Dispose();
        place?.Dispose();
        Finished?.Invoke(this);
    }
}
