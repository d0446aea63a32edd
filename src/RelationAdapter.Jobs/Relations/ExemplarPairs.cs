using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Jobs.Relations;

/// <summary>
/// The exemplar pair of a job or of a relation request: cached relation tokens, or the two images to encode (and
/// cache under the id), already padded to the size the image encoder takes (<see cref="ImagePreprocessing.PadToRegularRatio"/>).
/// </summary>
public sealed record RelationInput(string Id, RelationTokens? Cached, Image<Rgb24>? PaddedPromptImage, Image<Rgb24>? PaddedReferenceImage)
{
    /// <summary>The padded pair decoded on demand when it is not here (a Redis job keeps it encoded): null when there is none.</summary>
    public Func<(Image<Rgb24> PaddedPromptImage, Image<Rgb24> PaddedReferenceImage)?>? LoadPadded { get; init; }

    public void DisposeImages()
    {
        PaddedPromptImage?.Dispose();
        PaddedReferenceImage?.Dispose();
    }
}

/// <summary>An exemplar pair (padded for the image encoder) waiting to be encoded, and the callers waiting for it.</summary>
public sealed class RelationWork(RelationInput pair, IDisposable? place = null)
{
    readonly TaskCompletionSource<CachedRelation> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the queue that took the work does once it is done (forget it as in flight, acknowledge it).</summary>
    public Action<RelationWork>? Finished { get; set; }

    /// <summary>The pair, its two padded images present.</summary>
    public RelationInput Pair { get; } = pair.PaddedPromptImage is not null && pair.PaddedReferenceImage is not null ? pair
        : throw new ArgumentException("a relation to encode needs both padded images.", nameof(pair));
    public string Id => Pair.Id;
    public Task<CachedRelation> Done => _done.Task;

    public void Complete(CachedRelation relation) => _done.TrySetResult(relation);
    public void Fail(Exception error) => _done.TrySetException(error);

    /// <summary>The work is done, refused or joined another's: its images and admission place are released.</summary>
    public void Finish()
    {
        Pair.DisposeImages();
        place?.Dispose();
        Finished?.Invoke(this);
    }
}
