using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Service.Tests.Scaling;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Redis;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Service.Tests.Jobs;

/// <summary>
/// What every job backend promises the lifecycle above it, asked of each backend the same way: the storage plug-in
/// contract (as Hangfire tests its storages). The host is not involved: the backend as <c>AddJobs</c> registers it,
/// driven through its interfaces by the test standing in for the endpoints and the worker.
/// </summary>
public abstract class JobBackendContract(DateTimeOffset start) : IAsyncLifetime
{
    protected const int Capacity = 3;
    protected static readonly TimeSpan Retention = TimeSpan.FromSeconds(2);

    ServiceProvider _services = null!;
    readonly List<IRunningJob> _taken = [];
    long _ids;

    protected FakeTimeProvider Time { get; } = new(start);
    protected Observed Observers { get; } = new();
    protected IJobBoard Board => _services.GetRequiredService<IJobBoard>();
    protected IWorkSource Work => _services.GetRequiredService<IWorkSource>();

    /// <summary>The backend's own registration (and anything it needs before it starts).</summary>
    protected abstract Task AddBackendAsync(IServiceCollection services);

    /// <summary>Lets <paramref name="span"/> pass for the backend: the fake clock, and what the backend's own clock needs.</summary>
    protected abstract Task PassAsync(TimeSpan span);

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton<TimeProvider>(Time)
            .AddSingleton<ServiceTelemetry>()
            .AddSingleton<RelationCache>()
            .AddSingleton<IJobObserver>(Observers)
            .AddSingleton<IHostApplicationLifetime>(new ApplicationLifetime(NullLogger<ApplicationLifetime>.Instance))
            .Configure<QueueOptions>(queue => (queue.Capacity, queue.ResultRetention) = (Capacity, Retention))
            .Configure<ServiceOptions>(service => service.InstanceName = "contract-worker");
        await AddBackendAsync(services);
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        foreach (var job in _taken) await Work.DoneAsync(job);
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task A_job_runs_from_queued_to_succeeded_and_its_watchers_see_every_change_in_order()
    {
        var id = await SubmitAsync("alice");
        var queued = await Board.FindAsync(id, default);
        Assert.Equal((JobStatus.Queued, 0), (queued!.State.Status, queued.QueuePosition));
        Assert.Equal(1, await Board.DepthAsync(default));
        var watched = WatchAll(id);

        var job = await TakeAsync();
        Assert.Equal(id, job.Spec.Id);
        Assert.Equal((40, 24), (job.Sources[0].Width, job.Sources[0].Height));
        var running = await Board.FindAsync(id, default);
        Assert.Equal((JobStatus.Running, "contract-worker", (int?)null), (running!.State.Status, running.State.Worker, running.QueuePosition));
        Assert.Equal(0, await Board.DepthAsync(default));

        job.ReportProgress(new EditProgress(EditStage.Denoise, 1, 2, TimeSpan.Zero));
        await job.SucceedAsync(new EditOutput("image/png", [new EditedImage(40, 24, 7)], new Dictionary<EditStage, TimeSpan>(), []), [[1, 2, 3]]);
        await FinishAsync(job);

        var done = await Board.FindAsync(id, default);
        Assert.Equal(JobStatus.Succeeded, done!.State.Status);
        Assert.Equal(7, Assert.Single(done.State.Output!.Images).Seed);
        Assert.Equal([1, 2, 3], await Board.ReadResultAsync(id, 0, default));
        Assert.Null(await Board.ReadResultAsync(id, 1, default));

        var events = await watched;
        Assert.Equal("status", events[0].Kind);
        Assert.Equal(["started", "progress", "succeeded"], events.Skip(1).Select(change => change.Kind).Where(kind => kind != "queue_position"));
        Assert.Equal(events.Select(change => change.Id).Order(), events.Select(change => change.Id));
        Assert.Equal(1, events.Single(change => change.Kind == "progress").State.Step);
        // Observers hear status changes (not progress), whichever backend stored them.
        await Poll.UntilAsync(() => Observers.StatusesOf(id).SequenceEqual([JobStatus.Running, JobStatus.Succeeded]), "the observers heard the start and the end");
    }

    [Fact]
    public async Task Capacity_counts_waiting_jobs_and_reserved_places_and_a_place_given_back_frees_one()
    {
        var places = new List<Place>();
        for (var i = 0; i < Capacity; i++)
        {
            var (place, admission) = await Board.TryReserveAsync(default);
            Assert.Equal(Admission.Accepted, admission);
            places.Add(place!);
        }
        Assert.Equal((null, Admission.Full), await Board.TryReserveAsync(default));
        Assert.True(await Board.EnqueueAsync(places[0], NewJob("alice"), default));
        Assert.Equal(Admission.Full, (await Board.TryReserveAsync(default)).Admission);

        places[1].Dispose();
        var (again, accepted) = await Board.TryReserveAsync(default);
        Assert.Equal(Admission.Accepted, accepted);
        Assert.Equal(Admission.Full, (await Board.TryReserveAsync(default)).Admission);
        again!.Dispose();
        places[2].Dispose();
    }

    [Fact]
    public async Task Cancel_storms_give_every_place_back_exactly_once()
    {
        var running = await SubmitAsync("alice");
        var job = await TakeAsync();
        for (var round = 0; round < 10; round++)
        {
            var waiting = new List<string>();
            for (var i = 0; i < Capacity; i++) waiting.Add(await SubmitAsync("alice"));
            Assert.Equal(Admission.Full, (await Board.TryReserveAsync(default)).Admission);
            var outcomes = await Task.WhenAll(waiting.Concat(waiting).Select(id => Board.CancelAsync(id, default)));
            Assert.Equal(Capacity, outcomes.Count(outcome => outcome.Outcome == CancelOutcome.RemovedFromQueue));
            Assert.Equal(Capacity, outcomes.Count(outcome => outcome.Outcome == CancelOutcome.AlreadyFinished));
            Assert.Equal(0, await Board.DepthAsync(default));
        }
        for (var i = 0; i < Capacity; i++) await SubmitAsync("alice");
        Assert.Equal(CancelOutcome.StopRequested, (await Board.CancelAsync(running, default)).Outcome);
        Assert.Equal(running, job.Spec.Id);
    }

    [Fact]
    public async Task A_queued_job_canceled_leaves_the_queue_at_once_and_never_runs()
    {
        var first = await SubmitAsync("alice");
        var second = await SubmitAsync("alice");
        var third = await SubmitAsync("alice");
        Assert.Equal([0, 1, 2], await Task.WhenAll(new[] { first, second, third }.Select(async id => (await Board.FindAsync(id, default))!.QueuePosition)));

        var (outcome, canceled) = await Board.CancelAsync(first, default);
        Assert.Equal(CancelOutcome.RemovedFromQueue, outcome);
        Assert.Equal(JobStatus.Canceled, canceled!.State.Status);
        Assert.Equal([null, 0, 1], await Task.WhenAll(new[] { first, second, third }.Select(async id => (await Board.FindAsync(id, default))!.QueuePosition)));
        Assert.Equal(CancelOutcome.AlreadyFinished, (await Board.CancelAsync(first, default)).Outcome);

        Assert.Equal(second, (await TakeAsync()).Spec.Id);
        Assert.Equal(third, (await TakeAsync()).Spec.Id);
        Assert.Null(await Work.TakeEditAsync(default));
        await Poll.UntilAsync(() => Observers.StatusesOf(first).SequenceEqual([JobStatus.Canceled]), "the observers heard the cancel");
    }

    [Fact]
    public async Task A_running_job_asked_to_cancel_sees_its_token_canceled_and_ends_canceled()
    {
        var id = await SubmitAsync("alice");
        var job = await TakeAsync();
        var (outcome, _) = await Board.CancelAsync(id, default);
        Assert.Equal(CancelOutcome.StopRequested, outcome);
        await Poll.UntilAsync(() => job.Cancellation.IsCancellationRequested, "the running job's token was canceled");
        await job.StoppedAsync();
        await FinishAsync(job);
        Assert.Equal(JobStatus.Canceled, (await Board.FindAsync(id, default))!.State.Status);
    }

    [Fact]
    public async Task Listing_pages_through_an_owners_jobs_newest_first_with_cursors_and_filters_by_status()
    {
        var alice = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            alice.Add(await SubmitAsync("alice"));
            var job = await TakeAsync();
            await job.FailAsync(new JobFailure(FailureKind.InvalidInput, "a test failure"));
            await FinishAsync(job);
        }
        alice.Add(await SubmitAsync("alice"));
        alice.Add(await SubmitAsync("alice"));
        var bob = await SubmitAsync("bob");

        var pages = new List<string[]>();
        long? cursor = null;
        while (true)
        {
            var page = await Board.NewestAsync("alice", null, cursor, 2, default);
            if (page.Count == 0) break;
            pages.Add([.. page.Select(job => job.Id)]);
            cursor = page[^1].Spec.Sequence;
        }
        Assert.Equal([[alice[4], alice[3]], [alice[2], alice[1]], [alice[0]]], pages);
        Assert.Equal([alice[2], alice[1], alice[0]], (await Board.NewestAsync("alice", JobStatus.Failed, null, 10, default)).Select(job => job.Id));
        Assert.Equal([alice[4], alice[3]], (await Board.NewestAsync("alice", JobStatus.Queued, null, 10, default)).Select(job => job.Id));
        Assert.Equal([bob], (await Board.NewestAsync("bob", null, null, 10, default)).Select(job => job.Id));
        Assert.Empty(await Board.NewestAsync(null, null, null, 10, default));
    }

    [Fact]
    public async Task A_finished_job_is_forgotten_after_its_retention_and_the_observers_are_told()
    {
        var id = await SubmitAsync("alice");
        var job = await TakeAsync();
        await job.SucceedAsync(new EditOutput("image/png", [new EditedImage(40, 24, 7)], new Dictionary<EditStage, TimeSpan>(), []), [[1]]);
        await FinishAsync(job);
        var kept = await SubmitAsync("alice");

        await PassAsync(Retention / 2);
        Assert.NotNull(await Board.FindAsync(id, default));
        await PassAsync(Retention);
        await Poll.UntilAsync(async () => await Board.FindAsync(id, default) is null, "the finished job was dropped after its retention", seconds: 10);
        Assert.Null(await Board.ReadResultAsync(id, 0, default));
        Assert.Equal([kept], (await Board.NewestAsync("alice", null, null, 10, default)).Select(record => record.Id));
        Assert.NotNull(await Board.FindAsync(kept, default)); // a waiting job has no retention
        await Poll.UntilAsync(() => Observers.Forgotten.Contains(id), "the observers were told the job is forgotten", seconds: 10);
        Assert.DoesNotContain(kept, Observers.Forgotten);
    }

    [Fact]
    public async Task Idempotency_keys_replay_the_first_outcome_refuse_another_request_and_free_a_key_whose_job_is_gone()
    {
        var keys = _services.GetRequiredService<IIdempotencyKeys>();
        Task<bool> There(IdempotentOutcome _) => Task.FromResult(true);
        Assert.False(await keys.KnowsAsync("alice\n/v1/edits\nk1"));
        var (claim, replay, reused) = await keys.BeginAsync("alice\n/v1/edits\nk1", "request-a", There, default);
        Assert.NotNull(claim);
        Assert.True(await keys.KnowsAsync("alice\n/v1/edits\nk1"));
        await claim.CompleteAsync(new IdempotentOutcome(202, "ed_1"));
        claim.Dispose();

        Assert.Equal(new IdempotentOutcome(202, "ed_1"), (await keys.BeginAsync("alice\n/v1/edits\nk1", "request-a", There, default)).Replay);
        Assert.True((await keys.BeginAsync("alice\n/v1/edits\nk1", "request-b", There, default)).Reused);
        var otherScope = await keys.BeginAsync("bob\n/v1/edits\nk1", "request-b", There, default);
        Assert.NotNull(otherScope.Claim);
        otherScope.Claim.Dispose();
        Assert.False(await keys.KnowsAsync("bob\n/v1/edits\nk1")); // disposed unfinished: the key is free again

        var gone = await keys.BeginAsync("alice\n/v1/edits\nk1", "request-a", _ => Task.FromResult(false), default);
        Assert.NotNull(gone.Claim);
        Assert.Null(gone.Replay);
        gone.Claim.Dispose();
    }

    [Fact]
    public async Task Requests_for_one_pair_share_one_encoding_and_every_requester_gets_the_relation()
    {
        var requests = _services.GetRequiredService<IRelationRequests>();
        var (first, joined) = await requests.EncodeAsync(new RelationWork(new RelationInput("rel_contract", null, Image(), Image())), default);
        Assert.False(joined);
        var (second, joinedSecond) = await requests.EncodeAsync(new RelationWork(new RelationInput("rel_contract", null, Image(), Image())), default);
        Assert.True(joinedSecond);

        RelationWork? work = null;
        await Poll.UntilAsync(async () => (work = await Work.TakeRelationAsync(default)) is not null, "the worker took the pair");
        Assert.Equal("rel_contract", work!.Id);
        var tokens = new RelationTokens([.. Enumerable.Range(0, 8).Select(i => (float)i)], [1, 2, 4]);
        work.Complete(_services.GetRequiredService<RelationCache>().Store(work.Id, tokens, Time.GetUtcNow()));
        work.Finish();

        foreach (var done in new[] { first, second })
        {
            var relation = await done.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("rel_contract", relation.Id);
            Assert.Equal(tokens.Values, relation.Tokens.Values);
        }
        Assert.Null(await Work.TakeRelationAsync(default));
    }

    [Fact]
    public async Task A_webhook_delivery_is_added_once_handed_out_once_until_its_attempt_is_recorded_and_dropped_with_its_job()
    {
        var outbox = _services.GetRequiredService<IWebhookOutbox>();
        var t0 = Time.GetUtcNow();
        Assert.True(await outbox.AddAsync(Delivery("ed_1"), t0));
        Assert.False(await outbox.AddAsync(Delivery("ed_1"), t0));
        var pending = Assert.Single(await outbox.TakeDueAsync(t0, 10));
        Assert.Equal((0, t0), (pending.AttemptsMade, pending.EnqueuedAt));
        Assert.Empty(await outbox.TakeDueAsync(t0, 10));

        await outbox.CompleteAttemptAsync(pending, Attempt(pending, WebhookOutcome.Retrying, t0, t0.AddSeconds(2)));
        Assert.Equal(t0.AddSeconds(2), await outbox.NextDueAsync());
        Assert.Empty(await outbox.TakeDueAsync(t0.AddSeconds(1), 10));
        var again = Assert.Single(await outbox.TakeDueAsync(t0.AddSeconds(2), 10));
        Assert.Equal(1, again.AttemptsMade);
        await outbox.ReleaseAsync(again);
        var released = Assert.Single(await outbox.TakeDueAsync(t0.AddSeconds(2), 10));
        Assert.Equal(1, released.AttemptsMade); // handed back unattempted: nothing counted
        await outbox.CompleteAttemptAsync(released, Attempt(released, WebhookOutcome.Delivered, t0.AddSeconds(2)));
        Assert.Null(await outbox.NextDueAsync());
        Assert.Equal([1, 2], (await outbox.AttemptsAsync("ed_1")).Select(attempt => attempt.Number));
        Assert.False(await outbox.AddAsync(Delivery("ed_1"), t0.AddSeconds(3))); // made once, never again

        for (var i = 3; i >= 2; i--) await outbox.AddAsync(Delivery($"ed_{i}"), t0.AddSeconds(i));
        await outbox.AddAsync(Delivery("ed_1", WebhookEvents.Started), t0.AddSeconds(1));
        Assert.Equal(["ed_1", "ed_2"], (await outbox.TakeDueAsync(t0.AddSeconds(10), 2)).Select(due => due.Delivery.JobId));
        await outbox.ForgetJobAsync("ed_1");
        Assert.Empty(await outbox.AttemptsAsync("ed_1"));
        Assert.Equal(["ed_3"], (await outbox.TakeDueAsync(t0.AddSeconds(10), 10)).Select(due => due.Delivery.JobId));
    }

    async Task<string> SubmitAsync(string owner)
    {
        var (place, admission) = await Board.TryReserveAsync(default);
        Assert.Equal(Admission.Accepted, admission);
        var job = NewJob(owner);
        Assert.True(await Board.EnqueueAsync(place!, job, default));
        return job.Spec.Id;
    }

    NewEditJob NewJob(string owner)
    {
        var id = $"ed_contract_{Interlocked.Increment(ref _ids)}";
        var spec = new EditSpec(id, 0, owner, new EditSettings { Prompt = "p", Steps = 2, MaxSide = 64 }, OutputFormat.Png, "rel_x",
            Time.GetUtcNow(), Retention);
        return new NewEditJob(spec, [Image()], new RelationInput("rel_x", null, null, null));
    }

    static Image<Rgb24> Image() => new(40, 24, new Rgb24(200, 10, 10));

    async Task<IRunningJob> TakeAsync()
    {
        IRunningJob? job = null;
        await Poll.UntilAsync(async () => (job = await Work.TakeEditAsync(default)) is not null, "the worker took the next edit");
        _taken.Add(job!);
        return job!;
    }

    async Task FinishAsync(IRunningJob job)
    {
        _taken.Remove(job);
        await Work.DoneAsync(job);
    }

    async Task<List<JobEvent>> WatchAll(string id)
    {
        var events = new List<JobEvent>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await foreach (var change in Board.WatchAsync(id, null, timeout.Token)) events.Add(change);
        return events;
    }

    static WebhookDelivery Delivery(string jobId, string webhookEvent = WebhookEvents.Completed) =>
        new(jobId, "https://example.com/hooks", webhookEvent, "{}"u8.ToArray());

    static WebhookAttempt Attempt(PendingWebhook pending, WebhookOutcome outcome, DateTimeOffset at, DateTimeOffset? next = null) =>
        new(pending.Delivery.Id, pending.Delivery.Event, pending.AttemptsMade + 1, at, 500, null, 1, outcome, next);

    /// <summary>What the observers heard, in order.</summary>
    protected sealed class Observed : IJobObserver
    {
        readonly ConcurrentQueue<(string Id, JobStatus Status)> _changes = new();
        public ConcurrentQueue<string> Forgotten { get; } = new();

        public void StatusChanged(EditSpec job, JobState state) => _changes.Enqueue((job.Id, state.Status));
        void IJobObserver.Forgotten(string jobId) => Forgotten.Enqueue(jobId);
        public IEnumerable<JobStatus> StatusesOf(string id) => _changes.Where(change => change.Id == id).Select(change => change.Status);
    }
}

[Trait("Category", "Unit")]
public sealed class MemoryJobBackendTests() : JobBackendContract(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero))
{
    protected override Task AddBackendAsync(IServiceCollection services)
    {
        services.AddMemoryJobBackend();
        return Task.CompletedTask;
    }

    protected override Task PassAsync(TimeSpan span)
    {
        Time.Advance(span);
        return Task.CompletedTask;
    }
}

/// <summary>The contract on a real redis-server; Redis keeps time for its keys' expiry by its own clock, so the fake one starts at now and time passes for real too.</summary>
[Collection(RedisCollection.Name)]
[Trait("Category", "Redis")]
public sealed class RedisJobBackendTests(RedisServer redis) : JobBackendContract(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()))
{
    protected override async Task AddBackendAsync(IServiceCollection services)
    {
        await redis.FlushAsync();
        services.AddRedisJobBackend(redis.ConnectionString, runsWorker: true);
    }

    protected override async Task PassAsync(TimeSpan span)
    {
        Time.Advance(span);
        await Task.Delay(span);
    }
}
