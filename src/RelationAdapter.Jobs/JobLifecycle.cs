using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Jobs;

/// <summary>A job as its store keeps it, with the count of its changes (the id of its latest event) and the worker that holds it.</summary>
public sealed record StoredJob(JobRecord Record, long Version, string? Worker);

/// <summary>
/// What a backend stores for the lifecycle: jobs and one way of changing them, a compare-and-set. The backend
/// decides nothing about states; it keeps them, counts and publishes each change, and keeps the queue in step.
/// </summary>
public interface IJobStore
{
    Task<StoredJob?> ReadAsync(string id);

    /// <summary>
    /// Moves the job from one of <paramref name="from"/> (and, with <paramref name="requiredWorker"/>, only while that
    /// worker holds it) to <paramref name="next"/>, publishing the change as <paramref name="kind"/>, all at once: the
    /// new version, 0 when the job was not so, -1 when it does not exist. A job leaving <c>queued</c> leaves the queue;
    /// a finished one drops its inputs, keeps <paramref name="results"/> and starts its retention.
    /// </summary>
    Task<long> ChangeAsync(EditSpec job, JobStatus[] from, JobState next, string kind, string? requiredWorker = null, string? newWorker = null,
        IReadOnlyList<byte[]>? results = null);

    /// <summary>Asks the worker running the job to stop before its next step; false when the job is not running.</summary>
    Task<bool> AskToStopAsync(string id);
}

/// <summary>
/// The one job state machine, over whichever backend stores the jobs: queued → running → succeeded, failed or
/// canceled; queued → canceled; running → running under another worker when its worker went silent. Each change is
/// the store's compare-and-set, so a cancel and a start never both win and a worker that lost its job writes nothing;
/// the observers hear every status change from here.
/// </summary>
public sealed class JobLifecycle(IJobStore store, JobObservers observers, ServiceTelemetry telemetry, TimeProvider time)
{
    /// <summary>
    /// Queued → running under <paramref name="worker"/> (with <paramref name="reclaim"/>, also a running job whose
    /// worker went silent): the started state, or null when the job is not there to start (canceled, finished, gone).
    /// </summary>
    public async Task<JobState?> StartAsync(EditSpec job, string worker, bool reclaim = false)
    {
        var started = JobState.Queued.Started(time.GetUtcNow(), worker);
        return await ChangeAsync(job, reclaim ? [JobStatus.Queued, JobStatus.Running] : [JobStatus.Queued], started, "started", newWorker: worker) > 0
            ? started : null;
    }

    /// <summary>A running job's progress; false when <paramref name="worker"/> no longer holds it.</summary>
    public async Task<bool> ProgressAsync(EditSpec job, JobState state, string worker) =>
        await ChangeAsync(job, [JobStatus.Running], state, "progress", requiredWorker: worker) > 0;

    public Task<bool> SucceedAsync(EditSpec job, JobState state, EditOutput output, IReadOnlyList<byte[]> images, string worker) =>
        EndAsync(job, state.Succeeded(output, time.GetUtcNow()), "succeeded", worker, images);

    public Task<bool> FailAsync(EditSpec job, JobState state, JobFailure error, string worker) =>
        EndAsync(job, state.Failed(error, time.GetUtcNow()), "failed", worker);

    /// <summary>A running job that stopped on its cancellation.</summary>
    public Task<bool> StoppedAsync(EditSpec job, JobState state, string worker) => EndAsync(job, state.Canceled(time.GetUtcNow()), "canceled", worker);

    /// <summary>A queued job leaves the queue at once; a running one is asked to stop before its next step.</summary>
    public async Task<(CancelOutcome Outcome, JobRecord? Job)> CancelAsync(string id)
    {
        while (await store.ReadAsync(id) is { } job)
        {
            switch (job.Record.State.Status)
            {
                case JobStatus.Queued:
                    if (await CancelQueuedAsync(job.Record)) return (CancelOutcome.RemovedFromQueue, (await store.ReadAsync(id))?.Record ?? job.Record);
                    continue; // it started meanwhile: ask its worker
                case JobStatus.Running:
                    if (await store.AskToStopAsync(id)) return (CancelOutcome.StopRequested, job.Record);
                    continue; // it ended meanwhile
                default:
                    return (CancelOutcome.AlreadyFinished, job.Record);
            }
        }
        return (CancelOutcome.AlreadyFinished, null);
    }

    /// <summary>Cancels the job only if it has not started.</summary>
    public async Task CancelIfWaitingAsync(string id)
    {
        if (await store.ReadAsync(id) is { Record.State.Status: JobStatus.Queued } job) await CancelQueuedAsync(job.Record);
    }

    async Task<bool> CancelQueuedAsync(JobRecord job)
    {
        if (await ChangeAsync(job.Spec, [JobStatus.Queued], job.State.Canceled(time.GetUtcNow()), "canceled") <= 0) return false;
        telemetry.CountJob("canceled", job.Spec.Owner);
        return true;
    }

    async Task<bool> EndAsync(EditSpec job, JobState end, string kind, string worker, IReadOnlyList<byte[]>? results = null) =>
        await ChangeAsync(job, [JobStatus.Running], end, kind, requiredWorker: worker, results: results) > 0;

    async Task<long> ChangeAsync(EditSpec job, JobStatus[] from, JobState next, string kind, string? requiredWorker = null, string? newWorker = null,
        IReadOnlyList<byte[]>? results = null)
    {
        var version = await store.ChangeAsync(job, from, next, kind, requiredWorker, newWorker, results);
        if (version > 0 && kind != "progress") observers.StatusChanged(job, next);
        return version;
    }
}
