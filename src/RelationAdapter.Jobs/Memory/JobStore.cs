using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs.Memory;

/// <summary>
/// Every job this process knows (memory backend), and their one way of changing; finished ones are forgotten after
/// the retention time or beyond the count.
/// </summary>
public sealed class JobStore(JobQueue queue, IOptions<QueueOptions> options, TimeProvider time, JobObservers observers) : IJobStore
{
    readonly ConcurrentDictionary<string, EditJob> _jobs = new(StringComparer.Ordinal);
    long _sequence;

    public long NextSequence() => Interlocked.Increment(ref _sequence);

    public void Add(EditJob job)
    {
        Prune();
        _jobs[job.Id] = job;
    }

    public void Remove(EditJob job) => _jobs.TryRemove(job.Id, out _);

    public EditJob? Find(string id)
    {
        Prune();
        return _jobs.TryGetValue(id, out var job) ? job : null;
    }

    /// <summary>Up to <paramref name="count"/> jobs of the owner (null: created without API keys), newest first, older than the sequence <paramref name="before"/> when given.</summary>
    public IReadOnlyList<EditJob> Newest(string? owner, JobStatus? status, long? before, int count)
    {
        Prune();
        return _jobs.Values
            .Where(job => job.Spec.Owner == owner && (before is null || job.Spec.Sequence < before) && (status is null || job.Status == status))
            .OrderByDescending(job => job.Spec.Sequence)
            .Take(count)
            .ToList();
    }

    public JobRecord Record(EditJob job, JobState state) => new(job.Spec, state, state.Status == JobStatus.Queued ? queue.PositionOf(job) : null);

    // The lifecycle's reads and changes (a progress write per denoising step among them) look the job up without
    // pruning: forgetting runs on the way of submissions and client reads.
    public Task<StoredJob?> ReadAsync(string id)
    {
        if (!_jobs.TryGetValue(id, out var job)) return Task.FromResult<StoredJob?>(null);
        var (state, version) = job.Versioned();
        return Task.FromResult<StoredJob?>(new StoredJob(Record(job, state), version, state.Worker));
    }

    public Task<long> ChangeAsync(EditSpec spec, JobStatus[] from, JobState next, string kind, string? requiredWorker = null, string? newWorker = null,
        IReadOnlyList<byte[]>? results = null)
    {
        if (!_jobs.TryGetValue(spec.Id, out var job)) return Task.FromResult(-1L);
        var version = job.Change(from, next, kind, requiredWorker, newWorker, results);
        // Only a change from queued can take a job out of the queue: a running job's per-step progress never scans it.
        if (version > 0 && next.Status != JobStatus.Queued && from.Contains(JobStatus.Queued)) queue.Remove(job);
        return Task.FromResult(version);
    }

    public Task<bool> AskToStopAsync(string id)
    {
        if (!_jobs.TryGetValue(id, out var job) || job.Status != JobStatus.Running) return Task.FromResult(false);
        job.Stop.Cancel();
        return Task.FromResult(true);
    }

    void Prune()
    {
        var settings = options.Value;
        var cutoff = time.GetUtcNow() - settings.ResultRetention;
        var finished = _jobs.Values.Select(job => (Job: job, State: job.Snapshot())).Where(j => j.State.IsFinished)
            .OrderBy(j => j.State.FinishedAt).ToList();
        var excess = finished.Count - settings.MaxStoredResults;
        foreach (var (job, state) in finished)
            if ((excess-- > 0 || state.FinishedAt < cutoff) && _jobs.TryRemove(job.Id, out _))
                observers.Forgotten(job.Id);
    }
}
