using System.Diagnostics;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using StackExchange.Redis;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// A GPU worker's side of the Redis backend. Jobs come from the edit stream through the workers' consumer group:
/// an entry stays pending until its job ended, and the running worker renews its claim; an entry whose worker
/// went silent for <see cref="QueueOptions.ClaimTimeout"/> is claimed by another worker, which runs the job again
/// from the start (same seed, same bytes). On shutdown the running job gets the grace period, then goes back to
/// the queue for the other workers; waiting jobs stay queued.
/// </summary>
public sealed class RedisWorkSource : IWorkSource, IDisposable
{
    readonly RedisConnection _redis;
    readonly RedisJobs _jobs;
    readonly QueueOptions _options;
    readonly TimeProvider _time;
    readonly ILogger<RedisWorkSource> _logger;
    readonly string _name;
    readonly Lock _gate = new();
    readonly Action<RedisChannel, RedisValue> _onWork, _onCancel;
    TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    RedisRunningJob? _running;
    bool _subscribed, _groupsReady;
    volatile bool _closed;

    public RedisWorkSource(RedisConnection redis, RedisJobs jobs, IOptions<QueueOptions> options, IOptions<ServiceOptions> service, TimeProvider time,
        ILogger<RedisWorkSource> logger)
    {
        _redis = redis;
        _jobs = jobs;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _name = service.Value.InstanceName;
        _onWork = (_, _) => Signal();
        _onCancel = (_, id) =>
        {
            lock (_gate)
                if (_running?.Spec.Id == id) _running.Stop(handBack: false);
        };
    }

    IDatabase Db => _redis.Database;
    public bool IsClosed => _closed;

    /// <summary>The subscriptions and consumer groups, made on first use and again after Redis came back empty.</summary>
    void EnsureReady()
    {
        if (!_subscribed)
        {
            _redis.Subscriber.Subscribe(RedisChannel.Literal(RedisKeys.WorkChannel), _onWork);
            _redis.Subscriber.Subscribe(RedisChannel.Literal(RedisKeys.CancelChannel), _onCancel);
            _subscribed = true;
        }
        if (_groupsReady) return;
        foreach (var stream in new[] { RedisKeys.EditStream, RedisKeys.RelationStream }) RedisJobs.EnsureGroup(Db, stream);
        _groupsReady = true;
    }

    /// <summary>An entry whose worker went silent, else a new one; null when the stream has none.</summary>
    StreamEntry? Next(string stream)
    {
        EnsureReady();
        try
        {
            return Read(stream);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            _groupsReady = false; // Redis lost its data (a restart without persistence, a flush): make the groups again
            throw;
        }
    }

    StreamEntry? Read(string stream)
    {
        var claimed = Db.StreamAutoClaim(stream, RedisKeys.WorkerGroup, _name, (long)_options.ClaimTimeout.TotalMilliseconds, "0-0", 1);
        // An entry deleted while pending comes back without values.
        foreach (var orphan in claimed.ClaimedEntries ?? [])
            if (orphan.Values is { Length: > 0 }) return orphan;
        var fresh = Db.StreamReadGroup(stream, RedisKeys.WorkerGroup, _name, StreamPosition.NewMessages, 1);
        return fresh is [{ Values.Length: > 0 } entry] ? entry : null;
    }

    void Acknowledge(string stream, RedisValue entryId)
    {
        Db.StreamAcknowledge(stream, RedisKeys.WorkerGroup, entryId);
        Db.StreamDelete(stream, [entryId]);
    }

    public bool TryTakeEdit(out IRunningJob job)
    {
        job = null!;
        while (!_closed && Next(RedisKeys.EditStream) is { } entry)
        {
            var id = (string)entry["job"]!;
            var stored = _jobs.ReadAsync(id).GetAwaiter().GetResult();
            // Gone (expired), finished, or canceled while queued: nothing to run.
            if (stored is null || stored.Record.State.IsFinished)
            {
                Acknowledge(RedisKeys.EditStream, entry.Id);
                continue;
            }
            var spec = stored.Record.Spec;
            var started = JobState.Queued.Started(_time.GetUtcNow(), _name);
            // A running job comes back only through a claim: its worker went silent, so this one runs it again.
            if (_jobs.TransitionAsync(spec, [JobStatus.Queued, JobStatus.Running], started, "started", newWorker: _name).GetAwaiter().GetResult() <= 0)
            {
                Acknowledge(RedisKeys.EditStream, entry.Id);
                continue;
            }
            if (stored.Record.State.Status == JobStatus.Running)
                _logger.LogWarning("Edit {JobId}: its worker {Worker} went silent; running it again here", id, stored.Worker);
            // A cancel that came before this worker listened for it is still in the job (read before anything is
            // held: a Redis error from here on must leave nothing behind but the pending entry).
            var canceled = Db.HashExists(RedisKeys.Job(id), "cancel");
            var running = Load(spec, started, entry.Id);
            if (running is null) continue;
            lock (_gate) _running = running;
            if (canceled) running.Stop(handBack: false);
            job = running;
            return true;
        }
        return false;
    }

    RedisRunningJob? Load(EditSpec spec, JobState started, RedisValue entryId)
    {
        var inputs = Db.HashGetAll(RedisKeys.Inputs(spec.Id)).ToDictionary(e => (string)e.Name!, e => (byte[])e.Value!);
        var sources = new List<Image<Rgb24>>();
        Image<Rgb24>? before = null, after = null;
        try
        {
            for (var index = 0; index < spec.SourceCount; index++)
                sources.Add(ImageCodec.Decode(inputs.GetValueOrDefault($"source_{index}") ?? throw new InvalidOperationException("the job's inputs are gone from Redis.")));
            if (inputs.TryGetValue("prompt_image", out var beforeBytes)) before = ImageCodec.Decode(beforeBytes);
            if (inputs.TryGetValue("reference_image", out var afterBytes)) after = ImageCodec.Decode(afterBytes);
            return new RedisRunningJob(this, spec, started, sources, new RelationInput(spec.RelationId, null, before, after), entryId);
        }
        catch (Exception e)
        {
            foreach (var source in sources) source.Dispose();
            before?.Dispose();
            after?.Dispose();
            _logger.LogError(e, "Edit {JobId} could not be loaded", spec.Id);
            var failed = started.Failed(JobFailure.From(e), _time.GetUtcNow());
            _jobs.TransitionAsync(spec, [JobStatus.Running], failed, "failed", requiredWorker: _name).GetAwaiter().GetResult();
            Acknowledge(RedisKeys.EditStream, entryId);
            return null;
        }
    }

    public void Done(IRunningJob job)
    {
        var running = (RedisRunningJob)job;
        lock (_gate)
            if (ReferenceEquals(_running, running)) _running = null;
        running.Dispose();
        try
        {
            running.SettleProgress();
            if (running.LostClaim) return; // the entry is another worker's now
            if (running.HandedBack) Requeue(running);
            else if (running.EndWritten) Acknowledge(RedisKeys.EditStream, running.EntryId);
            // Else its end could not be written (Redis away or full): the entry stays pending, unrenewed, and a
            // worker claims it after the claim timeout and runs the job again; acknowledging would strand it as running.
            else _logger.LogError("Edit {JobId}: its end could not be stored; it will be run again", running.Spec.Id);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or BackendUnavailableException)
        {
            // The entry stays pending: another worker claims it after the claim timeout.
            _logger.LogError(e, "Edit {JobId}: Redis was not reachable to finish it", running.Spec.Id);
        }
        finally
        {
            running.Ended();
        }
    }

    /// <summary>Back to the queue in its old place (its sequence), for another worker.</summary>
    // KEYS: job, queued, edit stream, sequence. ARGV: worker, queued state json, job id, group, old entry id, events channel, work channel.
    // All at once, so a crash half-way neither loses the job nor leaves two entries that would run it twice.
    const string RequeueScript = """
        if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'worker') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'status', 'queued', 'state', ARGV[2], 'worker', '-')
        local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
        redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[3])
        redis.call('XADD', KEYS[3], '*', 'job', ARGV[3])
        redis.call('XACK', KEYS[3], ARGV[4], ARGV[5])
        redis.call('XDEL', KEYS[3], ARGV[5])
        redis.call('PUBLISH', ARGV[6], version .. '\n' .. 'requeued' .. '\n' .. ARGV[2])
        redis.call('PUBLISH', ARGV[7], 'edit')
        return version
        """;

    /// <summary>Back to the queue, at its end (the stream has no other place to put it), for another worker.</summary>
    void Requeue(RedisRunningJob job)
    {
        var id = job.Spec.Id;
        var version = (long)Db.ScriptEvaluate(RequeueScript, [RedisKeys.Job(id), RedisKeys.Queued, RedisKeys.EditStream, RedisKeys.Sequence],
            [_name, System.Text.Json.JsonSerializer.Serialize(JobState.Queued, RedisConnection.Json), id, RedisKeys.WorkerGroup, job.EntryId,
                RedisKeys.Events(id), RedisKeys.WorkChannel]);
        if (version > 0) _logger.LogInformation("Edit {JobId} handed back to the queue on shutdown", id);
    }

    public bool TryTakeRelation(out RelationWork work)
    {
        work = null!;
        while (!_closed && Next(RedisKeys.RelationStream) is { } entry)
        {
            var id = (string)entry["relation"]!;
            var images = Db.HashGet(RedisKeys.RelationPending(id), ["prompt_image", "reference_image"]);
            if (images[0].IsNull || images[1].IsNull)
            {
                Acknowledge(RedisKeys.RelationStream, entry.Id);
                continue;
            }
            var entryId = entry.Id;
            void End(string? error)
            {
                Db.KeyDelete(RedisKeys.RelationPending(id));
                Db.Publish(RedisChannel.Literal(RedisKeys.RelationDoneChannel), error is null ? id : $"{id}\n{error}");
                Acknowledge(RedisKeys.RelationStream, entryId);
            }
            Image<Rgb24>? before = null;
            try
            {
                before = ImageCodec.Decode((byte[])images[0]!);
                var after = ImageCodec.Decode((byte[])images[1]!);
                var renewal = new Timer(_ => Renew(RedisKeys.RelationStream, entryId), null, _options.ClaimTimeout / 4, _options.ClaimTimeout / 4);
                work = new RelationWork(id, before, after)
                {
                    Finished = done =>
                    {
                        renewal.Dispose();
                        End(done.Done.Exception?.InnerException?.Message);
                    },
                };
                return true;
            }
            catch (Exception e) when (e is not RedisException)
            {
                before?.Dispose();
                _logger.LogError(e, "Relation {RelationId} could not be loaded", id);
                End("the exemplar pair could not be read back.");
            }
        }
        return false;
    }

    public async Task WaitAsync(CancellationToken cancellation)
    {
        Task signal;
        lock (_gate)
        {
            // An announcement heard since the last wait (while the streams were being read) is not lost: look again at once.
            if (_signal.Task.IsCompleted)
            {
                _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return;
            }
            signal = _signal.Task;
        }
        // New work is announced; a poll now and then finds claims of silent workers and missed announcements.
        var poll = TimeSpan.FromMilliseconds(Math.Min(1000, _options.ClaimTimeout.TotalMilliseconds / 2));
        await Task.WhenAny(signal, Task.Delay(poll, cancellation));
        cancellation.ThrowIfCancellationRequested();
    }

    void Signal()
    {
        lock (_gate) _signal.TrySetResult();
    }

    public void StopTaking()
    {
        _closed = true;
        Signal();
    }

    public async Task CloseAsync(TimeSpan grace)
    {
        StopTaking();
        RedisRunningJob? running;
        lock (_gate) running = _running;
        if (running is null) return;
        var timeout = Task.Delay(grace, CancellationToken.None);
        if (await Task.WhenAny(running.Completion, timeout) == timeout)
        {
            running.Stop(handBack: true);
            await Task.WhenAny(running.Completion, Task.Delay(TimeSpan.FromSeconds(3)));
        }
    }

    public void WorkerStopped() { }

    public void Dispose()
    {
        if (!_subscribed) return;
        _redis.Subscriber.Unsubscribe(RedisChannel.Literal(RedisKeys.WorkChannel), _onWork, CommandFlags.FireAndForget);
        _redis.Subscriber.Unsubscribe(RedisChannel.Literal(RedisKeys.CancelChannel), _onCancel, CommandFlags.FireAndForget);
    }

    /// <summary>
    /// A job this worker runs. The worker thread is its only writer while the claim holds: each change goes to
    /// Redis on the condition that this worker still owns the job, so a worker that lost its claim stops.
    /// </summary>
    sealed class RedisRunningJob(RedisWorkSource source, EditSpec spec, JobState state, IReadOnlyList<Image<Rgb24>> images, RelationInput relation, RedisValue entryId)
        : IRunningJob, IDisposable
    {
        readonly CancellationTokenSource _stop = new();
        readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        readonly Timer _renewal = new(_ => source.Renew(RedisKeys.EditStream, entryId), null, source._options.ClaimTimeout / 4, source._options.ClaimTimeout / 4);
        JobState _state = state;
        Task _progressWritten = Task.CompletedTask;

        public EditSpec Spec { get; } = spec;
        public IReadOnlyList<Image<Rgb24>> Sources { get; } = images;
        public RelationInput Relation { get; } = relation;
        public ActivityContext ParentContext => Spec.ParentContext;
        public CancellationToken Cancellation => _stop.Token;
        public RedisValue EntryId { get; } = entryId;
        public bool HandedBack { get; private set; }
        public bool LostClaim => Volatile.Read(ref _lostClaim);
        bool _lostClaim;
        /// <summary>The job's end (succeeded, failed or canceled) is stored: its entry may be acknowledged.</summary>
        public bool EndWritten { get; private set; }
        public Task Completion => _ended.Task;

        public void Stop(bool handBack)
        {
            HandedBack |= handBack;
            _stop.Cancel();
        }

        public void SetSize(int width, int height) => _state = _state with { Width = width, Height = height };

        /// <summary>
        /// Written without waiting, so a denoising step never waits on Redis; one write at a time keeps them in order.
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
            if (!LostClaim && await source._jobs.TransitionAsync(Spec, [JobStatus.Running], next, "progress", requiredWorker: source._name) <= 0) LoseClaim();
        }

        public void Succeed(EditOutput output, IReadOnlyList<byte[]> results) =>
            Change(_state.Succeeded(output, source._time.GetUtcNow()),
                "succeeded", results);

        public void Fail(JobFailure error) => Change(_state.Failed(error, source._time.GetUtcNow()), "failed");

        public void Stopped()
        {
            // Handed back on shutdown: Done re-queues it. Else a client canceled it.
            if (!HandedBack) Change(_state.Canceled(source._time.GetUtcNow()), "canceled");
        }

        /// <summary>Waits for the progress writes under way; a failed one no longer matters once the job is done.</summary>
        public void SettleProgress()
        {
            try { _progressWritten.GetAwaiter().GetResult(); }
            catch (Exception e) when (e is BackendUnavailableException or RedisException or TimeoutException) { }
        }

        /// <summary>The job's end, after the progress written before it.</summary>
        void Change(JobState next, string kind, IReadOnlyList<byte[]>? results = null)
        {
            _progressWritten.GetAwaiter().GetResult();
            if (source._jobs.TransitionAsync(Spec, [JobStatus.Running], next, kind, requiredWorker: source._name, results: results).GetAwaiter().GetResult() > 0)
            {
                _state = next;
                EndWritten = true;
                return;
            }
            LoseClaim();
        }

        // Only this worker changes a job it runs: another worker claimed it, and this run is moot.
        void LoseClaim()
        {
            Volatile.Write(ref _lostClaim, true);
            _stop.Cancel();
        }

        public void Dispose()
        {
            _renewal.Dispose();
            foreach (var image in Sources) image.Dispose();
            Relation.DisposeImages();
        }

        public void Ended() => _ended.TrySetResult();
    }

    /// <summary>Claiming the entry again resets its idle time: other workers see this one alive.</summary>
    void Renew(string stream, RedisValue entryId)
    {
        _redis.FireAndForget(db => db.StreamClaimIdsOnlyAsync(stream, RedisKeys.WorkerGroup, _name, 0, [entryId], CommandFlags.FireAndForget));
    }
}
