using Microsoft.Extensions.DependencyInjection;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests.Jobs;

/// <summary>
/// What only the memory backend has to get right beside the contract: its queue's positions and places, the inputs it
/// holds in memory, and a shutdown that cancels what nobody else could run.
/// </summary>
[Trait("Category", "Unit")]
public sealed class MemoryQueueTests : IDisposable
{
    readonly ServiceProvider _services = new ServiceCollection()
        .AddLogging()
        .AddMetrics()
        .AddSingleton(TimeProvider.System)
        .AddSingleton<ServiceTelemetry>()
        .Configure<QueueOptions>(queue => queue.Capacity = 3)
        .AddMemoryJobBackend()
        .BuildServiceProvider();
    int _ids;

    MemoryJobBoard Board => _services.GetRequiredService<MemoryJobBoard>();
    JobQueue Queue => _services.GetRequiredService<JobQueue>();
    JobStore Store => _services.GetRequiredService<JobStore>();

    async Task<EditJob> SubmitAsync(Image<Rgb24>? source = null)
    {
        var (place, admission) = await Board.TryReserveAsync(default);
        Assert.Equal(Admission.Accepted, admission);
        var id = $"ed_{++_ids}";
        var spec = new EditSpec(id, 0, null, new EditSettings { Prompt = "p", Steps = 1, MaxSide = 64 }, OutputFormat.Png, "rel_x",
            DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        Assert.True(await Board.EnqueueAsync(place!, new NewEditJob(spec, [source ?? new Image<Rgb24>(16, 16)], new RelationInput("rel_x", null, null, null)), default));
        return Store.Find(id)!;
    }

    [Fact]
    public async Task Positions_follow_submission_order_and_close_up_after_a_cancel()
    {
        var jobs = new[] { await SubmitAsync(), await SubmitAsync(), await SubmitAsync() };
        Assert.Equal([0, 1, 2], jobs.Select(job => Queue.PositionOf(job)));
        await Board.CancelAsync(jobs[0].Id, default);
        Assert.Equal([null, 0, 1], jobs.Select(job => Queue.PositionOf(job)));
        Assert.True(Queue.TryDequeue(out var next));
        Assert.Same(jobs[1], next);
        Assert.Null(Queue.PositionOf(jobs[1]));
    }

    [Fact]
    public async Task A_job_canceled_while_waiting_releases_its_images_at_once()
    {
        var source = new Image<Rgb24>(16, 16);
        var job = await SubmitAsync(source);
        await Board.CancelAsync(job.Id, default);
        Assert.Throws<ObjectDisposedException>(() => source.CloneAs<Rgb24>());
    }

    [Fact]
    public async Task Stopping_cancels_waiting_jobs_and_refuses_new_ones()
    {
        var waiting = await SubmitAsync();
        var (place, _) = await Board.TryReserveAsync(default);
        Board.StopTaking();
        Assert.Equal(JobStatus.Canceled, waiting.Status);
        Assert.False(Queue.Enqueue(place!, new EditJob(new NewEditJob(waiting.Spec with { Id = "ed_late" }, [], new RelationInput("rel_x", null, null, null)))));
        Assert.Equal((null, Admission.ShuttingDown), await Board.TryReserveAsync(default));
        Assert.Equal(0, Queue.Depth);
        Assert.True(Board.IsClosed);
    }

    [Fact]
    public async Task A_watcher_that_left_is_no_longer_written_to()
    {
        var ahead = await SubmitAsync();
        var job = await SubmitAsync();
        var events = job.Subscribe();
        Assert.True(events.TryRead(out var first) && first.Kind == "status");
        job.Unsubscribe(events);
        await Board.CancelAsync(ahead.Id, default); // moves the job up: a queue_position event for its watchers
        Assert.False(events.TryRead(out _));
    }

    [Fact]
    public async Task A_job_just_taken_stays_known_after_the_queue_closes_until_the_worker_is_done_with_it()
    {
        var job = await SubmitAsync();
        Assert.True(Queue.TryDequeue(out var taken));
        Queue.Close();
        Assert.Same(job, Queue.Taken); // shutdown will give it its grace period, though it had not started yet
        Assert.Equal(JobStatus.Queued, job.Status);
        Queue.Done(taken);
        Assert.Null(Queue.Taken);
    }

    public void Dispose() => _services.Dispose();
}
