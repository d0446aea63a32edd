using System.Diagnostics;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Jobs.Relations;

namespace RelationAdapter.Jobs;

/// <summary>
/// An edit a worker took, from whichever backend: the worker's thread is its only writer, and each change goes
/// through the lifecycle on the condition that this worker still holds the job, so a worker that lost it (another
/// claimed it) stops. The job owns its inputs until <see cref="Dispose"/>.
/// </summary>
public class RunningJob(JobLifecycle lifecycle, EditSpec spec, JobState started, string worker, IReadOnlyList<Image<Rgb24>> sources,
    RelationInput relation, CancellationTokenSource? stop = null) : IRunningJob, IDisposable
{
    readonly CancellationTokenSource _stop = stop ?? new CancellationTokenSource();
    readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    JobState _state = started;
    Task _progressWritten = Task.CompletedTask;
    bool _lostJob;

    public EditSpec Spec { get; } = spec;
    public IReadOnlyList<Image<Rgb24>> Sources { get; } = sources;
    public RelationInput Relation { get; } = relation;
    public ActivityContext ParentContext => Spec.ParentContext;
    public CancellationToken Cancellation => _stop.Token;

    /// <summary>Stopped to go back to the queue (its replica is shutting down), not canceled.</summary>
    public bool HandedBack { get; private set; }

    /// <summary>Another worker holds the job now: this run is moot.</summary>
    public bool LostJob => Volatile.Read(ref _lostJob);

    /// <summary>The job's end (succeeded, failed or canceled) is stored.</summary>
    public bool EndWritten { get; private set; }

    /// <summary>Completes once the worker is done with the job.</summary>
    public Task Completion => _ended.Task;

    public void Stop(bool handBack = false)
    {
        HandedBack |= handBack;
        _stop.Cancel();
    }

    public void SetSize(int width, int height) => _state = _state with { Width = width, Height = height };

    /// <summary>
    /// Written without waiting, so a denoising step never waits on the store; one write at a time keeps them in order.
    /// A failed write surfaces at the next change, and the job's end is written after every progress write.
    /// </summary>
    public void ReportProgress(EditProgress progress)
    {
        if (_progressWritten.IsFaulted) _progressWritten.GetAwaiter().GetResult();
        _state = _state.Progressed(progress);
        _progressWritten = WriteProgressAsync(_progressWritten, _state);
    }

    async Task WriteProgressAsync(Task previous, JobState next)
    {
        await previous;
        if (!LostJob && !await lifecycle.ProgressAsync(Spec, next, worker)) LoseJob();
    }

    public async Task SucceedAsync(EditOutput output, IReadOnlyList<byte[]> images)
    {
        await _progressWritten;
        End(await lifecycle.SucceedAsync(Spec, _state, output, images, worker));
    }

    public async Task FailAsync(JobFailure error)
    {
        await _progressWritten;
        End(await lifecycle.FailAsync(Spec, _state, error, worker));
    }

    public async Task StoppedAsync()
    {
        if (HandedBack) return; // its source puts it back in the queue
        await _progressWritten;
        End(await lifecycle.StoppedAsync(Spec, _state, worker));
    }

    /// <summary>Waits for the progress writes under way; a failed one no longer matters once the job is done.</summary>
    public async Task SettleProgressAsync()
    {
        try { await _progressWritten; }
        catch (Exception) { } // the job's end was written after it, or the job goes back to be run again
    }

    void End(bool written)
    {
        if (written) EndWritten = true;
        else LoseJob();
    }

    void LoseJob()
    {
        Volatile.Write(ref _lostJob, true);
        _stop.Cancel();
    }

    /// <summary>The worker is done with the job: its inputs are released.</summary>
    public virtual void Dispose()
    {
        foreach (var image in Sources) image.Dispose();
        Relation.DisposeImages();
    }

    public void Ended() => _ended.TrySetResult();
}
