using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Service.Jobs;

/// <summary>An exemplar pair (padded for the image encoder) waiting to be encoded, and the callers waiting for it.</summary>
public sealed class RelationWork(string id, Image<Rgb24> paddedPromptImage, Image<Rgb24> paddedReferenceImage, IDisposable? place = null)
{
    readonly TaskCompletionSource<CachedRelation> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Id { get; } = id;
    public Image<Rgb24> PaddedPromptImage { get; } = paddedPromptImage;
    public Image<Rgb24> PaddedReferenceImage { get; } = paddedReferenceImage;
    public Task<CachedRelation> Done => _done.Task;

    internal void Complete(CachedRelation relation) => _done.TrySetResult(relation);
    internal void Fail(Exception error) => _done.TrySetException(error);

    /// <summary>Its images and its admission place: the work is done, refused or joined another's.</summary>
    internal void ReleaseImages()
    {
        PaddedPromptImage.Dispose();
        PaddedReferenceImage.Dispose();
        place?.Dispose();
    }
}

/// <summary>
/// POST /v1/relations' work for the inference worker. Admission is bounded apart from the edit queue
/// (<see cref="QueueOptions.RelationCapacity"/> requests at a time, refused before their body is read);
/// concurrent requests for one pair share one encoding; an encoded pair is stored in the cache before
/// anyone is answered, or the request fails.
/// </summary>
public sealed class RelationEncoder(RelationCache cache, IOptions<QueueOptions> options, TimeProvider time) : IDisposable
{
    readonly Channel<RelationWork> _work = Channel.CreateUnbounded<RelationWork>(new UnboundedChannelOptions { SingleReader = true });
    readonly ConcurrentDictionary<string, RelationWork> _inFlight = new(StringComparer.Ordinal);
    readonly SemaphoreSlim _admission = new(options.Value.RelationCapacity);

    /// <summary>Takes one of the bounded places for a relation request; null when all are taken. Dispose to give it back.</summary>
    public RelationPlace? TryAdmit() => _admission.Wait(0) ? new RelationPlace(_admission) : null;

    /// <summary>The encoding of this pair already under way, if any.</summary>
    public Task<CachedRelation>? InFlight(string id) => _inFlight.TryGetValue(id, out var work) ? work.Done : null;

    /// <summary>
    /// Queues the pair for the worker, or joins the encoding of the same pair that another request queued
    /// first (then this work's images are released and <c>Joined</c> is true).
    /// </summary>
    public (Task<CachedRelation> Done, bool Joined) Encode(RelationWork work)
    {
        var winner = _inFlight.GetOrAdd(work.Id, work);
        if (!ReferenceEquals(winner, work))
        {
            work.ReleaseImages();
            return (winner.Done, true);
        }
        if (!_work.Writer.TryWrite(work))
        {
            _inFlight.TryRemove(work.Id, out _);
            work.ReleaseImages();
            work.Fail(new OperationCanceledException("the service is shutting down."));
        }
        return (work.Done, false);
    }

    public bool TryTake(out RelationWork work) => _work.Reader.TryRead(out work!);

    public Task<bool> WaitAsync(CancellationToken cancellation) => _work.Reader.WaitToReadAsync(cancellation).AsTask();

    /// <summary>Runs on the worker: encodes, stores in the cache, then answers every caller waiting for this pair.</summary>
    public void Process(RelationWork work, RelationEditPipeline pipeline)
    {
        try
        {
            var tokens = pipeline.EncodePaddedRelationTokens(work.PaddedPromptImage, work.PaddedReferenceImage);
            work.Complete(cache.Store(work.Id, tokens, time.GetUtcNow()));
        }
        catch (Exception e)
        {
            work.Fail(e);
            throw;
        }
        finally
        {
            _inFlight.TryRemove(work.Id, out _);
            work.ReleaseImages();
        }
    }

    /// <summary>Takes no more work and fails what was still waiting (on shutdown, after the worker's last drain).</summary>
    public void Close()
    {
        _work.Writer.TryComplete();
        while (_work.Reader.TryRead(out var left))
        {
            _inFlight.TryRemove(left.Id, out _);
            left.ReleaseImages();
            left.Fail(new OperationCanceledException("the service is shutting down."));
        }
    }

    public void Dispose() => _admission.Dispose();

}

/// <summary>One of the bounded places of relation requests; the request holds it, or hands it to the work it queues.</summary>
public sealed class RelationPlace(SemaphoreSlim admission) : IDisposable
{
    int _held = 1;

    /// <summary>The same place under a new owner; this one no longer gives it back.</summary>
    public RelationPlace? HandOver() => Interlocked.Exchange(ref _held, 0) == 1 ? new RelationPlace(admission) : null;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _held, 0) == 1) admission.Release();
    }
}
