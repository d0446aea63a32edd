using System.Diagnostics;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Jobs.Relations;

namespace RelationAdapter.Jobs;

/// <summary>
/// The jobs as the HTTP endpoints see them, whichever backend keeps them: this process's memory, or Redis
/// shared by every replica. Every call answers from the one shared truth, so any replica serves any job.
/// </summary>
public interface IJobBoard
{
    /// <summary>Takes a place for a job about to be queued (its body read and admitted); null with the reason when none is free.</summary>
    Task<(Place? Place, Admission Admission)> TryReserveAsync(CancellationToken cancellation);

    /// <summary>Why the backend cannot take or answer jobs now (Redis unreachable), or null when it can.</summary>
    Task<string?> UnavailableAsync(CancellationToken cancellation);

    /// <summary>Jobs waiting to run, over every replica.</summary>
    Task<int> DepthAsync(CancellationToken cancellation);

    /// <summary>
    /// Queues the job in its reserved place, taking its images; false when the service stopped taking jobs (then, as
    /// when this throws, the images stay the caller's).
    /// </summary>
    Task<bool> EnqueueAsync(Place place, NewEditJob job, CancellationToken cancellation);

    /// <summary>
    /// Whether a job of this cached relation may be queued without its exemplar pair: the backend still has the pair to
    /// give the job, for a worker that finds the relation gone (and keeps it longer now). Else the caller sends the padded pair.
    /// </summary>
    Task<bool> HoldsExemplarsAsync(string relationId, CancellationToken cancellation);

    Task<JobRecord?> FindAsync(string id, CancellationToken cancellation);

    /// <summary>Up to <paramref name="count"/> jobs of the owner (null: created without API keys), newest first, before the sequence <paramref name="before"/> when given.</summary>
    Task<IReadOnlyList<JobRecord>> NewestAsync(string? owner, JobStatus? status, long? before, int count, CancellationToken cancellation);

    /// <summary>A queued job leaves the queue at once; a running one is asked to stop before its next step.</summary>
    Task<(CancelOutcome Outcome, JobRecord? Job)> CancelAsync(string id, CancellationToken cancellation);

    /// <summary>Cancels the job only if it has not started.</summary>
    Task CancelIfWaitingAsync(string id);

    /// <summary>The encoded image of a succeeded job's source <paramref name="index"/>; null when there is none.</summary>
    Task<byte[]?> ReadResultAsync(string id, int index, CancellationToken cancellation);

    /// <summary>
    /// The job's changes until it finishes: its current state first as a <c>status</c> event unless the watcher
    /// already saw it (<paramref name="lastSeen"/>), then every change, queue moves included.
    /// </summary>
    IAsyncEnumerable<JobEvent> WatchAsync(string id, long? lastSeen, CancellationToken cancellation);
}

/// <summary>An edit the worker took: what to run, its inputs, and where its progress and outcome go.</summary>
public interface IRunningJob
{
    EditSpec Spec { get; }
    /// <summary>The sources at their edit sizes.</summary>
    IReadOnlyList<Image<Rgb24>> Sources { get; }
    RelationInput Relation { get; }
    ActivityContext ParentContext { get; }
    /// <summary>Canceled when a client cancels the job, or when shutdown ends its grace period.</summary>
    CancellationToken Cancellation { get; }

    void SetSize(int width, int height);
    /// <summary>Never waits for the backend: a denoising step does not wait on storage.</summary>
    void ReportProgress(EditProgress progress);
    /// <summary>The job's images, encoded, one per result in order.</summary>
    Task SucceedAsync(EditOutput output, IReadOnlyList<byte[]> images);
    Task FailAsync(JobFailure error);
    /// <summary>The job stopped on its cancellation token.</summary>
    Task StoppedAsync();
}

/// <summary>Where the worker takes its work from: relation encodings and edit jobs.</summary>
public interface IWorkSource
{
    /// <summary>The next exemplar pair to encode; null when none waits.</summary>
    Task<RelationWork?> TakeRelationAsync(CancellationToken cancellation);

    /// <summary>The next edit, already marked running under this worker's name; null when none waits.</summary>
    Task<IRunningJob?> TakeEditAsync(CancellationToken cancellation);

    /// <summary>The taken edit reached its end (or could not start).</summary>
    Task DoneAsync(IRunningJob job);

    /// <summary>Completes when work may be waiting or the source closed.</summary>
    Task WaitAsync(CancellationToken cancellation);

    /// <summary>True once closed: nothing more will be taken.</summary>
    bool IsClosed { get; }

    /// <summary>
    /// Stops taking work at once (the moment shutdown begins, before the server stops answering): waiting
    /// edits are canceled where nobody else could run them (memory), or left queued for other replicas (redis).
    /// </summary>
    void StopTaking();

    /// <summary>
    /// <see cref="StopTaking"/>, then the running edit gets the grace period, then it is canceled (this process
    /// is its only runner) or handed back to the queue (another replica runs it).
    /// </summary>
    Task CloseAsync(TimeSpan grace);

    /// <summary>The worker left its loop: work still waiting here is refused.</summary>
    void WorkerStopped();
}

/// <summary>POST /v1/relations' encodings: one encoding per pair however many ask.</summary>
public interface IRelationRequests
{
    /// <summary>Queues the pair for a worker, or joins the encoding of the same pair already under way (then <c>Joined</c>).</summary>
    Task<(Task<CachedRelation> Done, bool Joined)> EncodeAsync(RelationWork work, CancellationToken cancellation);
}

/// <summary>The shared backend (Redis) cannot be reached: nothing was accepted or changed; the client may retry.</summary>
public sealed class BackendUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
