using System.Diagnostics;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Jobs.Relations;

namespace RelationAdapter.Jobs;

public enum JobStatus { Queued, Running, Succeeded, Failed, Canceled }

public enum CancelOutcome { RemovedFromQueue, StopRequested, AlreadyFinished }

public enum Admission { Accepted, Full, ShuttingDown }

/// <summary>
/// What a job is, fixed at submission; <see cref="Sequence"/> orders jobs (the listing's cursor). A job with a
/// <see cref="Webhook"/> tells it of the events named in <see cref="WebhookEvents"/>.
/// </summary>
public sealed record EditSpec(string Id, long Sequence, string? Owner, EditSettings Settings, OutputFormat OutputFormat, string RelationId,
    DateTimeOffset CreatedAt, TimeSpan ResultRetention, string? Webhook = null, IReadOnlyList<string>? WebhookEvents = null, int SourceCount = 1,
    string? TraceParent = null, int OutputsPerSource = 1, IReadOnlyDictionary<string, string>? Metadata = null, string? BaseUrl = null)
{
    /// <summary>The submitting request's trace (W3C traceparent), so the job's spans join it on whichever replica runs it.</summary>
    public ActivityContext ParentContext => ActivityContext.TryParse(TraceParent, null, out var context) ? context : default;

    /// <summary>Images the job makes: <see cref="OutputsPerSource"/> per source, source i's k-th at index i·n + k.</summary>
    public int ResultCount => SourceCount * OutputsPerSource;

    /// <summary>Denoising steps over every result: a DiT step of a batch of k images counts k.</summary>
    public int TotalSteps => Settings.Steps * ResultCount;

    /// <summary>Result <paramref name="index"/>'s seed: the job's seed + the index.</summary>
    public long SeedOf(int index) => Settings.Seed + index;

    /// <summary>The source result <paramref name="index"/> was made from.</summary>
    public int SourceOf(int index) => index / OutputsPerSource;
}

/// <summary>A job being submitted: what it is and its admitted images (the sources at their edit sizes).</summary>
public sealed record NewEditJob(EditSpec Spec, IReadOnlyList<Image<Rgb24>> Sources, RelationInput Relation)
{
    public void DisposeImages()
    {
        foreach (var source in Sources) source.Dispose();
        Relation.DisposeImages();
    }
}

/// <summary>One edited image of a job: its size and the seed it was drawn from.</summary>
public sealed record EditedImage(int Width, int Height, long Seed);

/// <summary>What produced a finished job's images, one per source (the images themselves are read apart: they can be large).</summary>
public sealed record EditOutput(string ContentType, IReadOnlyList<EditedImage> Images,
    IReadOnlyDictionary<EditStage, TimeSpan> Timings, IReadOnlyList<string> Warnings, DenoiseSteps? DenoiseSteps = null)
{
    public int Width => Images[0].Width;
    public int Height => Images[0].Height;
}

/// <summary>The mutable part of a job, captured at one moment; <c>Worker</c> names the replica that runs or ran it.</summary>
public sealed record JobState(JobStatus Status, EditStage? Stage, int Step, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    int? Width, int? Height, EditOutput? Output, JobFailure? Error, string? Worker = null)
{
    public static readonly JobState Queued = new(JobStatus.Queued, null, 0, null, null, null, null, null, null);

    public bool IsFinished => Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled;

    /// <summary>The status as the API and the stores spell it.</summary>
    public static string NameOf(JobStatus status) => status.ToString().ToLowerInvariant();

    // The changes of a job, the same in every backend.
    public JobState Started(DateTimeOffset at, string? worker) => this with { Status = JobStatus.Running, StartedAt = at, Worker = worker };

    /// <summary>The step counts denoising (and decoding) only: the stages before keep the step where it was.</summary>
    public JobState Progressed(EditProgress progress) =>
        this with { Stage = progress.Stage, Step = progress.Stage is EditStage.Denoise or EditStage.Decode ? progress.Step : Step };

    public JobState Succeeded(EditOutput output, DateTimeOffset at) =>
        this with { Status = JobStatus.Succeeded, Output = output, Width = output.Width, Height = output.Height, FinishedAt = at };

    public JobState Failed(JobFailure error, DateTimeOffset at) => this with { Status = JobStatus.Failed, Error = error, FinishedAt = at };

    public JobState Canceled(DateTimeOffset at) => this with { Status = JobStatus.Canceled, FinishedAt = at };
}

/// <summary>
/// A change a watcher of the job sees (Server-Sent Events), with the state right after it. <c>Id</c> counts the
/// job's changes, so a watcher that reconnects with the last id it saw misses nothing and repeats nothing.
/// <c>QueuePosition</c> is the job's place in the queue at that moment (null unless queued).
/// </summary>
public sealed record JobEvent(long Id, string Kind, JobState State, int? QueuePosition = null);

/// <summary>A job as a reader sees it at one moment, wherever it runs.</summary>
public sealed record JobRecord(EditSpec Spec, JobState State, int? QueuePosition)
{
    public string Id => Spec.Id;
}

/// <summary>Told of every change of a job's status (not of its progress), on the replica that made it.</summary>
public interface IJobObserver
{
    void StatusChanged(EditSpec job, JobState state);

    /// <summary>The job was dropped (its retention is over): what was kept for it can go too.</summary>
    void Forgotten(string jobId) { }
}
