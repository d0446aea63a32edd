using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using StackExchange.Redis;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// The jobs of every replica, in Redis: a hash per job, its encoded inputs and result beside it, the global
/// queue order in a sorted set, and the job ids in a stream that the workers' consumer group reads. Capacity
/// counts the queued jobs and the places reserved by uploads on every replica.
/// </summary>
public sealed class RedisJobBoard : IJobBoard
{
    // A reserved place lapses after this unless its replica renews it, so a replica that dies holding places frees them within seconds.
    static readonly TimeSpan PlaceLease = TimeSpan.FromSeconds(15);
    // Pub/sub is fire and forget: a watcher re-reads the job this often when nothing was heard, so it never hangs on a lost message.
    static readonly TimeSpan WatchRecheck = TimeSpan.FromSeconds(2);

    // KEYS: queued, places. ARGV: now (ms), capacity, place id, lease end (ms).
    const string ReserveScript = """
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
        if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
        redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
        return 1
        """;

    readonly RedisConnection _redis;
    readonly RedisJobs _jobs;
    readonly JobLifecycle _lifecycle;
    readonly QueueOptions _options;
    readonly TimeProvider _time;
    readonly RedisWorkSource? _worker;
    int _lastDepth;
    bool _groupReady;

    readonly CancellationToken _stopping;

    public RedisJobBoard(RedisConnection redis, RedisJobs jobs, JobLifecycle lifecycle, IOptions<QueueOptions> options, ServiceTelemetry telemetry, TimeProvider time,
        IHostApplicationLifetime lifetime, RedisWorkSource? worker = null)
    {
        _stopping = lifetime.ApplicationStopping;
        _redis = redis;
        _jobs = jobs;
        _lifecycle = lifecycle;
        _options = options.Value;
        _time = time;
        _worker = worker;
        telemetry.ObserveQueueDepth(() =>
        {
            try { return _lastDepth = (int)redis.Database.SortedSetLength(RedisKeys.Queued); }
            catch (Exception e) when (e is RedisConnectionException or TimeoutException) { return _lastDepth; }
        });
    }

    IDatabase Db => _redis.Database;

    public Task<string?> UnavailableAsync(CancellationToken cancellation) => _redis.ProblemAsync();

    public async Task<int> DepthAsync(CancellationToken cancellation) =>
        (int)await RedisConnection.Call(() => Db.SortedSetLengthAsync(RedisKeys.Queued));

    public async Task<(Place? Place, Admission Admission)> TryReserveAsync(CancellationToken cancellation)
    {
        // A replica shutting down takes no more jobs (the others do).
        if (_worker?.IsClosed == true) return (null, Admission.ShuttingDown);
        var id = Guid.NewGuid().ToString("N");
        var now = _time.GetUtcNow();
        var taken = (long)await RedisConnection.Call(() => Db.ScriptEvaluateAsync(ReserveScript, [RedisKeys.Queued, RedisKeys.Places],
            [now.ToUnixTimeMilliseconds(), _options.Capacity, id, (now + PlaceLease).ToUnixTimeMilliseconds()]));
        if (taken == 0) return (null, Admission.Full);
        var renewal = new Timer(_ => _redis.FireAndForget(db => db.SortedSetAddAsync(RedisKeys.Places, id, (_time.GetUtcNow() + PlaceLease).ToUnixTimeMilliseconds(),
            SortedSetWhen.Exists, CommandFlags.FireAndForget)), null, PlaceLease / 3, PlaceLease / 3);
        return (new Place(id, () => _redis.FireAndForget(db => db.SortedSetRemoveAsync(RedisKeys.Places, id, CommandFlags.FireAndForget)), renewal),
            Admission.Accepted);
    }

    // Listing keeps at most this many jobs per owner (newest); older ones have expired long before in any real use.
    const int ListedPerOwner = 10_000;

    /// <summary>How long a relation's encoded pair is kept after its last use, for the next job of it to copy.</summary>
    TimeSpan PairRetention => _options.ResultRetention;

    public async Task<bool> HoldsExemplarsAsync(string relationId, CancellationToken cancellation) =>
        await RedisConnection.Call(() => Db.KeyExpireAsync(RedisKeys.RelationPair(relationId), PairRetention));

    // KEYS: the relation's pair, the job's inputs. ARGV: the pair's retention in ms. Copied by Redis itself, so a job of a
    // cached relation keeps its pair for as long as it waits without the api encoding it again; a pair gone meanwhile
    // (its retention passed between the check and now) leaves the job with its relation's tokens alone, as before pairs were kept.
    const string CopyPairScript = """
        local pair = redis.call('HMGET', KEYS[1], 'prompt_image', 'reference_image')
        if pair[1] and pair[2] then
          redis.call('HSET', KEYS[2], 'prompt_image', pair[1], 'reference_image', pair[2])
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
        end
        return 0
        """;

    public async Task<bool> EnqueueAsync(Place place, NewEditJob job, CancellationToken cancellation)
    {
        await ForgetExpiredAsync();
        if (!_groupReady) _groupReady = await RedisConnection.Call(async () => { await RedisJobs.EnsureGroupAsync(Db, RedisKeys.EditStream); return true; });
        var sequence = await RedisConnection.Call(() => Db.StringIncrementAsync(RedisKeys.Sequence));
        var spec = job.Spec with { Sequence = sequence };
        var inputs = job.Sources.Select((source, index) => new HashEntry($"source_{index}", ImageCodec.Encode(source, OutputFormat.Png))).ToList();
        var transaction = Db.CreateTransaction();
        // Every job keeps its pair (a worker that finds the relation gone encodes it again from it), encoded once per relation.
        var pair = RedisKeys.RelationPair(spec.RelationId);
        if (job.Relation.PaddedPromptImage is { } before && job.Relation.PaddedReferenceImage is { } after)
        {
            HashEntry[] encoded = [new("prompt_image", ImageCodec.Encode(before, OutputFormat.Png)), new("reference_image", ImageCodec.Encode(after, OutputFormat.Png))];
            inputs.AddRange(encoded);
            _ = transaction.HashSetAsync(pair, encoded);
            _ = transaction.KeyExpireAsync(pair, PairRetention);
        }
        else
            _ = transaction.ScriptEvaluateAsync(CopyPairScript, [pair, RedisKeys.Inputs(spec.Id)], [(long)PairRetention.TotalMilliseconds]);
        _ = transaction.HashSetAsync(RedisKeys.Job(spec.Id), [
            new("spec", JsonSerializer.Serialize(spec, RedisConnection.Json)),
            new("state", JsonSerializer.Serialize(JobState.Queued, RedisConnection.Json)),
            new("status", JobState.NameOf(JobStatus.Queued)),
            new("version", 0)]);
        _ = transaction.HashSetAsync(RedisKeys.Inputs(spec.Id), [.. inputs]);
        _ = transaction.SortedSetAddAsync(RedisKeys.Queued, spec.Id, sequence);
        _ = transaction.SortedSetAddAsync(RedisKeys.OwnerIndex(spec.Owner), spec.Id, sequence);
        _ = transaction.SortedSetRemoveRangeByRankAsync(RedisKeys.OwnerIndex(spec.Owner), 0, -ListedPerOwner - 1);
        _ = transaction.SortedSetRemoveAsync(RedisKeys.Places, place.Id);
        _ = transaction.StreamAddAsync(RedisKeys.EditStream, "job", spec.Id);
        _ = transaction.PublishAsync(RedisChannel.Literal(RedisKeys.WorkChannel), "edit");
        // From here the place is the transaction's: it is used, or removed below.
        place.Use();
        try
        {
            if (!await RedisConnection.Call(() => transaction.ExecuteAsync()))
                throw new BackendUnavailableException("Redis refused the job's transaction.");
        }
        catch
        {
            _ = Db.SortedSetRemoveAsync(RedisKeys.Places, place.Id, CommandFlags.FireAndForget);
            throw;
        }
        job.DisposeImages(); // stored encoded: the decoded copies are not needed here any more
        return true;
    }

    public async Task<JobRecord?> FindAsync(string id, CancellationToken cancellation)
    {
        await ForgetExpiredAsync();
        return (await _jobs.ReadAsync(id))?.Record;
    }

    long _nextForget;

    /// <summary>As the memory backend prunes, on the way of reads and submissions: at most once a second on each replica.</summary>
    Task ForgetExpiredAsync()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var due = Interlocked.Read(ref _nextForget);
        if (now < due || Interlocked.CompareExchange(ref _nextForget, now + 1000, due) != due) return Task.CompletedTask;
        return _jobs.ForgetExpiredAsync();
    }

    public async Task<IReadOnlyList<JobRecord>> NewestAsync(string? owner, JobStatus? status, long? before, int count, CancellationToken cancellation)
    {
        await ForgetExpiredAsync();
        var found = new List<JobRecord>();
        var index = RedisKeys.OwnerIndex(owner);
        var below = before is { } cursor ? cursor - 1 : double.PositiveInfinity;
        while (found.Count < count)
        {
            var batch = await RedisConnection.Call(() => Db.SortedSetRangeByScoreWithScoresAsync(index, double.NegativeInfinity, below,
                Exclude.None, Order.Descending, 0, Math.Max(count * 2, 16)));
            if (batch.Length == 0) break;
            // Read together: one round trip for the batch, not one per job.
            var jobs = await Task.WhenAll(batch.Select(entry => _jobs.ReadAsync((string)entry.Element!)));
            foreach (var (entry, job) in batch.Zip(jobs))
            {
                if (job is null)
                {
                    _ = Db.SortedSetRemoveAsync(index, entry.Element, CommandFlags.FireAndForget); // expired with its retention
                    continue;
                }
                if (status is null || job.Record.State.Status == status) found.Add(job.Record);
                if (found.Count == count) break;
            }
            below = batch[^1].Score - 1;
        }
        return found;
    }

    public Task<(CancelOutcome Outcome, JobRecord? Job)> CancelAsync(string id, CancellationToken cancellation) => _lifecycle.CancelAsync(id);

    public Task CancelIfWaitingAsync(string id) => _lifecycle.CancelIfWaitingAsync(id);

    public async Task<byte[]?> ReadResultAsync(string id, int index, CancellationToken cancellation) =>
        (byte[]?)await RedisConnection.Call(() => Db.HashGetAsync(RedisKeys.Result(id), index));

    public async IAsyncEnumerable<JobEvent> WatchAsync(string id, long? lastSeen, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var heard = Channel.CreateBounded<RedisValue>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest });
        Action<RedisChannel, RedisValue> listener = (_, message) => heard.Writer.TryWrite(message);
        var events = RedisChannel.Literal(RedisKeys.Events(id));
        var moved = RedisChannel.Literal(RedisKeys.QueueMovedChannel);
        var subscriber = _redis.Subscriber;
        // This replica stopping ends the watch (its jobs live on in Redis): a waiting client is answered with the
        // job as it stands, an event stream ends and its client reconnects to another replica with Last-Event-ID.
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellation, _stopping);
        await RedisConnection.Call(async () => { await subscriber.SubscribeAsync(events, listener); await subscriber.SubscribeAsync(moved, listener); return true; });
        try
        {
            // Read after subscribing: a change made in between is both read and heard, and the version drops the repeat.
            if (await _jobs.ReadAsync(id) is not { } job) yield break;
            var (version, state, position) = (job.Version, job.Record.State, job.Record.QueuePosition);
            if (lastSeen is null || lastSeen < version) yield return new JobEvent(version, "status", state, position);
            while (!state.IsFinished)
            {
                if (_stopping.IsCancellationRequested) yield break;
                using var recheck = CancellationTokenSource.CreateLinkedTokenSource(watching.Token);
                recheck.CancelAfter(WatchRecheck);
                RedisValue message;
                try
                {
                    message = await heard.Reader.ReadAsync(recheck.Token);
                }
                catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                {
                    message = RedisValue.Null;
                }
                // A change: version, kind, state, and for a job handed back to the queue its place there.
                if (!message.IsNull && ((string)message!).Split('\n') is [var number, var kind, var json, .. var place] && long.TryParse(number, out var changed))
                {
                    if (changed <= version) continue;
                    var wasQueued = state.Status == JobStatus.Queued;
                    (version, state) = (changed, JsonSerializer.Deserialize<JobState>(json, RedisConnection.Json)!);
                    position = state.Status != JobStatus.Queued ? null
                        : place is [var rank] && int.TryParse(rank, out var handedBackTo) ? handedBackTo
                        : wasQueued ? position
                        : (await _jobs.ReadAsync(id))?.Record.QueuePosition;
                    yield return new JobEvent(version, kind, state, position);
                    continue;
                }
                // A queue move, or silence: read the job again.
                if (await _jobs.ReadAsync(id) is not { } now) yield break;
                if (now.Version > version)
                {
                    // Its own change leaving the queue: the change's event, published in the same step, follows and
                    // names it; only silence (an event lost) makes it a plain status.
                    if (!message.IsNull) continue;
                    (version, state, position) = (now.Version, now.Record.State, now.Record.QueuePosition);
                    yield return new JobEvent(version, "status", state, position);
                }
                else if (state.Status == JobStatus.Queued && now.Record.QueuePosition != position)
                {
                    position = now.Record.QueuePosition;
                    yield return new JobEvent(version, "queue_position", state, position);
                }
            }
        }
        finally
        {
            _ = subscriber.UnsubscribeAsync(events, listener, CommandFlags.FireAndForget);
            _ = subscriber.UnsubscribeAsync(moved, listener, CommandFlags.FireAndForget);
        }
    }
}
