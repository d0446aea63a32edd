using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests;

/// <summary>The queue's accounting on its own: places, cancels and positions, without the model.</summary>
[Trait("Category", "Unit")]
public sealed class JobQueueTests : IDisposable
{
    readonly ServiceProvider _meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
    int _ids;

    JobQueue Queue(int capacity) =>
        new(Microsoft.Extensions.Options.Options.Create(new QueueOptions { Capacity = capacity }),
            new ServiceTelemetry(_meters.GetRequiredService<IMeterFactory>()));

    EditJob Job(Image<Rgb24>? source = null)
    {
        var id = ++_ids;
        var spec = new EditSpec($"ed_{id}", id, null, new EditSettings { Prompt = "p", Steps = 1, MaxSide = 64 }, OutputFormat.Png, "rel_x",
            DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1));
        return new EditJob(new NewEditJob(spec, [source ?? new Image<Rgb24>(16, 16)], new RelationInput("rel_x", null, null, null)), TimeProvider.System, "test");
    }

    EditJob Submit(JobQueue queue)
    {
        var place = queue.TryReserve(out var admission) ?? throw new InvalidOperationException($"refused: {admission}");
        var job = Job();
        Assert.True(queue.Enqueue(place, job));
        return job;
    }

    [Fact]
    public void A_reserved_place_counts_against_capacity_until_it_is_given_back()
    {
        var queue = Queue(1);
        var place = queue.TryReserve(out _);
        Assert.NotNull(place);
        Assert.Null(queue.TryReserve(out var refused));
        Assert.Equal(Admission.Full, refused);
        place.Dispose();
        using var again = queue.TryReserve(out var admission);
        Assert.Equal(Admission.Accepted, admission);
        Assert.Equal(0, queue.Depth);
    }

    [Fact]
    public void Cancel_storms_return_every_place_exactly_once()
    {
        var queue = Queue(4);
        Assert.True(queue.TryDequeue(out _) is false);
        var running = Submit(queue);
        Assert.True(queue.TryDequeue(out var dequeued) && dequeued == running && running.TryStart());
        for (var round = 0; round < 50; round++)
        {
            var jobs = Enumerable.Range(0, 4).Select(_ => Submit(queue)).ToList();
            Assert.Null(queue.TryReserve(out var full));
            Assert.Equal(Admission.Full, full);
            foreach (var job in jobs) Assert.Equal(CancelOutcome.RemovedFromQueue, queue.Cancel(job));
            foreach (var job in jobs) Assert.Equal(CancelOutcome.AlreadyFinished, queue.Cancel(job));
            Assert.Equal(0, queue.Depth);
        }
        Assert.Equal(4, Enumerable.Range(0, 4).Select(_ => Submit(queue)).Count());
        Assert.Equal(CancelOutcome.StopRequested, queue.Cancel(running));
    }

    [Fact]
    public void Positions_follow_submission_order_and_close_up_after_a_cancel()
    {
        var queue = Queue(8);
        var jobs = Enumerable.Range(0, 3).Select(_ => Submit(queue)).ToList();
        Assert.Equal([0, 1, 2], jobs.Select(job => queue.PositionOf(job)));
        queue.Cancel(jobs[0]);
        Assert.Equal([null, 0, 1], jobs.Select(job => queue.PositionOf(job)));
        Assert.True(queue.TryDequeue(out var next));
        Assert.Same(jobs[1], next);
        Assert.Null(queue.PositionOf(jobs[1]));
    }

    [Fact]
    public void A_job_canceled_while_waiting_releases_its_images_at_once()
    {
        var queue = Queue(2);
        var source = new Image<Rgb24>(16, 16);
        var place = queue.TryReserve(out _)!;
        var job = Job(source);
        queue.Enqueue(place, job);
        queue.Cancel(job);
        Assert.Throws<ObjectDisposedException>(() => source.CloneAs<Rgb24>());
    }

    [Fact]
    public void A_closed_queue_cancels_waiting_jobs_and_refuses_new_ones()
    {
        var queue = Queue(2);
        var waiting = Submit(queue);
        var place = queue.TryReserve(out _)!;
        queue.Close();
        Assert.Equal(JobStatus.Canceled, waiting.Status);
        Assert.False(queue.Enqueue(place, Job()));
        Assert.Null(queue.TryReserve(out var admission));
        Assert.Equal(Admission.ShuttingDown, admission);
        Assert.Equal(0, queue.Depth);
        Assert.True(queue.IsCompleted);
    }

    [Fact]
    public void A_watcher_that_left_is_no_longer_written_to()
    {
        var queue = Queue(4);
        var ahead = Submit(queue);
        var job = Submit(queue);
        var events = job.Subscribe();
        Assert.True(events.TryRead(out var first) && first.Kind == "status");
        job.Unsubscribe(events);
        queue.Cancel(ahead); // moves the job up: a queue_position event for its watchers
        Assert.False(events.TryRead(out _));
    }

    [Fact]
    public void A_job_just_taken_stays_known_after_the_queue_closes_until_the_worker_is_done_with_it()
    {
        var queue = Queue(2);
        var job = Submit(queue);
        Assert.True(queue.TryDequeue(out var taken));
        queue.Close();
        Assert.Same(job, queue.Taken); // shutdown will give it its grace period, though it had not started yet
        Assert.Equal(JobStatus.Queued, job.Status);
        queue.Done(taken);
        Assert.Null(queue.Taken);
    }

    public void Dispose() => _meters.Dispose();
}
