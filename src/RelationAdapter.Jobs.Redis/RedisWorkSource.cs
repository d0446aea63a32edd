using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using StackExchange.Redis;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;

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
    readonly JobLifecycle _lifecycle;
    readonly QueueOptions _options;
    readonly ILogger<RedisWorkSource> _logger;
    readonly string _name;
    readonly Lock _gate = new();
    readonly Action<RedisChannel, RedisValue> _onWork, _onCancel;
    TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    RedisRunningJob? _running;
    bool _subscribed, _groupsReady;
    volatile bool _closed;

    public RedisWorkSource(RedisConnection redis, RedisJobs jobs, JobLifecycle lifecycle, IOptions<QueueOptions> options, IOptions<ServiceOptions> service,
        ILogger<RedisWorkSource> logger)
    {
        _redis = redis;
        _jobs = jobs;
        _lifecycle = lifecycle;
        _options = options.Value;
        _logger = logger;
        _name = service.Value.InstanceName;
        _onWork = (_, _) => Signal();
        _onCancel = (_, id) =>
        {
            lock (_gate)
                if (_running?.Spec.Id == id) _running.Stop();
        };
    }

    IDatabase Db => _redis.Database;
    public bool IsClosed => _closed;

    /// <summary>The subscriptions and consumer groups, made on first use and again after Redis came back empty.</summary>
    async Task EnsureReadyAsync()
    {
        if (!_subscribed)
        {
            await _redis.Subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.WorkChannel), _onWork);
            await _redis.Subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.CancelChannel), _onCancel);
            _subscribed = true;
        }
        if (_groupsReady) return;
        foreach (var stream in new[] { RedisKeys.EditStream, RedisKeys.RelationStream }) await RedisJobs.EnsureGroupAsync(Db, stream);
        _groupsReady = true;
    }

    /// <summary>An entry whose worker went silent, else a new one; null when the stream has none.</summary>
    async Task<StreamEntry?> NextAsync(string stream)
    {
        await EnsureReadyAsync();
        try
        {
            return await ReadAsync(stream);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOGROUP", StringComparison.Ordinal))
        {
            _groupsReady = false; // Redis lost its data (a restart without persistence, a flush): make the groups again
            throw;
        }
    }

    async Task<StreamEntry?> ReadAsync(string stream)
    {
        var claimed = await Db.StreamAutoClaimAsync(stream, RedisKeys.WorkerGroup, _name, (long)_options.ClaimTimeout.TotalMilliseconds, "0-0", 1);
        // An entry deleted while pending comes back without values.
        foreach (var orphan in claimed.ClaimedEntries ?? [])
            if (orphan.Values is { Length: > 0 }) return orphan;
        var fresh = await Db.StreamReadGroupAsync(stream, RedisKeys.WorkerGroup, _name, StreamPosition.NewMessages, 1);
        return fresh is [{ Values.Length: > 0 } entry] ? entry : null;
    }

    async Task AcknowledgeAsync(string stream, RedisValue entryId)
    {
        await Db.StreamAcknowledgeAsync(stream, RedisKeys.WorkerGroup, entryId);
        await Db.StreamDeleteAsync(stream, [entryId]);
    }

    public async Task<IRunningJob?> TakeEditAsync(CancellationToken cancellation)
    {
        while (!_closed && await NextAsync(RedisKeys.EditStream) is { } entry)
        {
            var id = (string)entry["job"]!;
            var stored = await _jobs.ReadAsync(id);
            // Gone (expired), finished, or canceled while queued: nothing to run.
            if (stored is null || stored.Record.State.IsFinished)
            {
                await AcknowledgeAsync(RedisKeys.EditStream, entry.Id);
                continue;
            }
            var spec = stored.Record.Spec;
            // A running job comes back only through a claim: its worker went silent, so this one runs it again.
            if (await _lifecycle.StartAsync(spec, _name, reclaim: true) is not { } started)
            {
                await AcknowledgeAsync(RedisKeys.EditStream, entry.Id);
                continue;
            }
            if (stored.Record.State.Status == JobStatus.Running)
                _logger.LogWarning("Edit {JobId}: its worker {Worker} went silent; running it again here", id, stored.Worker);
            // A cancel that came before this worker listened for it is still in the job (read before anything is
            // held: a Redis error from here on must leave nothing behind but the pending entry).
            var canceled = await Db.HashExistsAsync(RedisKeys.Job(id), "cancel");
            var running = await LoadAsync(spec, started, entry.Id);
            if (running is null) continue;
            lock (_gate) _running = running;
            if (canceled) running.Stop();
            return running;
        }
        return null;
    }

    static (Image<Rgb24>, Image<Rgb24>)? DecodePair(byte[] beforeBytes, byte[] afterBytes)
    {
        var before = ImageCodec.Decode(beforeBytes);
        try
        {
            return (before, ImageCodec.Decode(afterBytes));
        }
        catch
        {
            before.Dispose();
            throw;
        }
    }

    async Task<RedisRunningJob?> LoadAsync(EditSpec spec, JobState started, RedisValue entryId)
    {
        var inputs = (await Db.HashGetAllAsync(RedisKeys.Inputs(spec.Id))).ToDictionary(e => (string)e.Name!, e => (byte[])e.Value!);
        var sources = new List<Image<Rgb24>>();
        try
        {
            for (var index = 0; index < spec.SourceCount; index++)
                sources.Add(ImageCodec.Decode(inputs.GetValueOrDefault($"source_{index}") ?? throw new InvalidOperationException("the job's inputs are gone from Redis.")));
            // The pair is decoded only if the relation is gone when the job runs.
            var relation = new RelationInput(spec.RelationId, null, null, null)
            {
                LoadPadded = inputs.GetValueOrDefault("prompt_image") is { } before && inputs.GetValueOrDefault("reference_image") is { } after
                    ? () => DecodePair(before, after) : null,
            };
            return new RedisRunningJob(this, spec, started, sources, relation, entryId);
        }
        catch (Exception e)
        {
            foreach (var source in sources) source.Dispose();
            _logger.LogError(e, "Edit {JobId} could not be loaded", spec.Id);
            await _lifecycle.FailAsync(spec, started, JobFailure.From(e), _name);
            await AcknowledgeAsync(RedisKeys.EditStream, entryId);
            return null;
        }
    }

    public async Task DoneAsync(IRunningJob job)
    {
        var running = (RedisRunningJob)job;
        lock (_gate)
            if (ReferenceEquals(_running, running)) _running = null;
        running.Dispose();
        try
        {
            await running.SettleProgressAsync();
            if (running.LostJob) return; // the entry is another worker's now
            if (running.HandedBack) await RequeueAsync(running);
            else if (running.EndWritten) await AcknowledgeAsync(RedisKeys.EditStream, running.EntryId);
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

    // KEYS: job, queued, edit stream, sequence. ARGV: worker, queued state json, job id, group, old entry id, events channel, work channel.
    // All at once, so a crash half-way neither loses the job nor leaves two entries that would run it twice. The event
    // carries the job's place: a watcher reading it afterwards may find the job already taken by another worker.
    const string RequeueScript = """
        if redis.call('HGET', KEYS[1], 'status') ~= 'running' or redis.call('HGET', KEYS[1], 'worker') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'status', 'queued', 'state', ARGV[2], 'worker', '-')
        local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
        redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[3])
        redis.call('XADD', KEYS[3], '*', 'job', ARGV[3])
        redis.call('XACK', KEYS[3], ARGV[4], ARGV[5])
        redis.call('XDEL', KEYS[3], ARGV[5])
        redis.call('PUBLISH', ARGV[6], version .. '\n' .. 'status' .. '\n' .. ARGV[2] .. '\n' .. redis.call('ZRANK', KEYS[2], ARGV[3]))
        redis.call('PUBLISH', ARGV[7], 'edit')
        return version
        """;

    /// <summary>Back to the queue, at its end (the stream has no other place to put it), for another worker.</summary>
    async Task RequeueAsync(RedisRunningJob job)
    {
        var id = job.Spec.Id;
        var version = (long)await Db.ScriptEvaluateAsync(RequeueScript, [RedisKeys.Job(id), RedisKeys.Queued, RedisKeys.EditStream, RedisKeys.Sequence],
            [_name, System.Text.Json.JsonSerializer.Serialize(JobState.Queued, RedisConnection.Json), id, RedisKeys.WorkerGroup, job.EntryId,
                RedisKeys.Events(id), RedisKeys.WorkChannel]);
        if (version > 0) _logger.LogInformation("Edit {JobId} handed back to the queue on shutdown", id);
    }

    public async Task<RelationWork?> TakeRelationAsync(CancellationToken cancellation)
    {
        while (!_closed && await NextAsync(RedisKeys.RelationStream) is { } entry)
        {
            var id = (string)entry["relation"]!;
            var images = await Db.HashGetAsync(RedisKeys.RelationPending(id), ["prompt_image", "reference_image"]);
            if (images[0].IsNull || images[1].IsNull)
            {
                await AcknowledgeAsync(RedisKeys.RelationStream, entry.Id);
                continue;
            }
            var entryId = entry.Id;
            async Task EndAsync(string? error)
            {
                await Db.KeyDeleteAsync(RedisKeys.RelationPending(id));
                await Db.PublishAsync(RedisChannel.Literal(RedisKeys.RelationDoneChannel), error is null ? id : $"{id}\n{error}");
                await AcknowledgeAsync(RedisKeys.RelationStream, entryId);
            }
            Image<Rgb24>? before = null;
            try
            {
                before = ImageCodec.Decode((byte[])images[0]!);
                var after = ImageCodec.Decode((byte[])images[1]!);
                var renewal = new Timer(_ => Renew(RedisKeys.RelationStream, entryId), null, _options.ClaimTimeout / 4, _options.ClaimTimeout / 4);
                return new RelationWork(new RelationInput(id, null, before, after))
                {
                    Finished = done =>
                    {
                        renewal.Dispose();
                        // The relation's waiters hear of it when this lands; a worker never waits on it.
                        _redis.FireAndForget(_ => EndAsync(done.Done.Exception?.InnerException?.Message));
                    },
                };
            }
            catch (Exception e) when (e is not RedisException)
            {
                before?.Dispose();
                _logger.LogError(e, "Relation {RelationId} could not be loaded", id);
                await EndAsync("the exemplar pair could not be read back.");
            }
        }
        return null;
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

    /// <summary>A job this worker runs, with its stream entry; the claim on the entry is renewed while it runs.</summary>
    sealed class RedisRunningJob(RedisWorkSource source, EditSpec spec, JobState started, IReadOnlyList<Image<Rgb24>> images, RelationInput relation, RedisValue entryId)
        : RunningJob(source._lifecycle, spec, started, source._name, images, relation)
    {
        readonly Timer _renewal = new(_ => source.Renew(RedisKeys.EditStream, entryId), null, source._options.ClaimTimeout / 4, source._options.ClaimTimeout / 4);

        public RedisValue EntryId { get; } = entryId;

        public override void Dispose()
        {
            _renewal.Dispose();
            base.Dispose();
        }
    }

    /// <summary>Claiming the entry again resets its idle time: other workers see this one alive.</summary>
    void Renew(string stream, RedisValue entryId)
    {
        _redis.FireAndForget(db => db.StreamClaimIdsOnlyAsync(stream, RedisKeys.WorkerGroup, _name, 0, [entryId], CommandFlags.FireAndForget));
    }
}
