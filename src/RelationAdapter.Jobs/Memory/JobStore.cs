using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs.Memory;

/// <summary>Every job this process knows (memory backend); finished ones are evicted after the retention time or beyond the count.</summary>
public sealed class JobStore(IOptions<QueueOptions> options, TimeProvider time, JobObservers observers)
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
