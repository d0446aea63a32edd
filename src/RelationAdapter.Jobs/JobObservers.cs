namespace RelationAdapter.Jobs;

/// <summary>
/// Where a job's changes leave its backend: each backend reports here every status change it stored and every job
/// it forgot, and the observers (webhooks, …) hear them the same way whichever backend keeps the jobs.
/// </summary>
public sealed class JobObservers(IEnumerable<IJobObserver> observers)
{
    readonly IJobObserver[] _observers = [.. observers];

    public void StatusChanged(EditSpec job, JobState state)
    {
        foreach (var observer in _observers) observer.StatusChanged(job, state);
    }

    public void Forgotten(string jobId)
    {
        foreach (var observer in _observers) observer.Forgotten(jobId);
    }
}
