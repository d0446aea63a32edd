using StackExchange.Redis;
using System.Text.Json;

namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// The job records in Redis and their one way of changing: <see cref="ChangeAsync"/>, a script that checks
/// the status (and the worker) it expects, writes the new state, counts the change and publishes it (and that the
/// queue moved, when the job leaves it), all at once; so a cancel and a worker's start never both win, and a worker that lost its claim writes nothing.
/// </summary>
public sealed class RedisJobs(RedisConnection redis, JobObservers observers) : IJobStore
{

    // KEYS: job, queued, results, inputs, expiring. ARGV: allowed statuses (comma-separated), new status, state json, event kind,
    // ttl seconds when finished (0: keep), worker required ('' = any), worker to set ('' = keep), job id, queue-moved channel, events channel,
    // then the result images in order (none but on success).
    const string TransitionScript = """
        local status = redis.call('HGET', KEYS[1], 'status')
        if not status then return -1 end
        local allowed = false
        for s in string.gmatch(ARGV[1], '[^,]+') do if s == status then allowed = true end end
        if not allowed then return 0 end
        if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'worker') ~= ARGV[6] then return 0 end
        redis.call('HSET', KEYS[1], 'status', ARGV[2], 'state', ARGV[3])
        if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'worker', ARGV[7]) end
        local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
        if ARGV[2] ~= 'queued' and redis.call('ZREM', KEYS[2], ARGV[8]) == 1 then redis.call('PUBLISH', ARGV[9], ARGV[8]) end
        local ttl = tonumber(ARGV[5])
        if ttl > 0 then
          redis.call('DEL', KEYS[4])
          redis.call('HDEL', KEYS[1], 'cancel')
          redis.call('EXPIRE', KEYS[1], ttl)
          for i = 11, #ARGV do redis.call('HSET', KEYS[3], i - 11, ARGV[i]) end
          if #ARGV > 10 then redis.call('EXPIRE', KEYS[3], ttl) end
          local now = redis.call('TIME')
          redis.call('ZADD', KEYS[5], now[1] * 1000 + math.floor(now[2] / 1000) + ttl * 1000, ARGV[8])
        end
        redis.call('PUBLISH', ARGV[10], version .. '\n' .. ARGV[4] .. '\n' .. ARGV[3])
        return version
        """;

    /// <summary>
    /// The workers' consumer group on a stream, from its first entry: made by whoever comes first (a worker, or
    /// the first submission, so the autoscaler can read the group's lag before any worker ran).
    /// </summary>
    public static async Task EnsureGroupAsync(IDatabase database, string stream)
    {
        try { await database.StreamCreateConsumerGroupAsync(stream, RedisKeys.WorkerGroup, "0", createStream: true); }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal)) { }
    }

    public async Task<StoredJob?> ReadAsync(string id)
    {
        // One round trip: the rank is null unless the job is queued.
        var (fields, rank) = await RedisConnection.Call(async () =>
        {
            var read = redis.Database.HashGetAsync(RedisKeys.Job(id), ["spec", "state", "version", "worker"]);
            var ranked = redis.Database.SortedSetRankAsync(RedisKeys.Queued, id);
            return (await read, await ranked);
        });
        if (fields[0].IsNull || fields[1].IsNull) return null;
        var spec = JsonSerializer.Deserialize<EditSpec>((string)fields[0]!, RedisConnection.Json)!;
        var state = JsonSerializer.Deserialize<JobState>((string)fields[1]!, RedisConnection.Json)!;
        var position = state.Status == JobStatus.Queued ? (int?)rank : null;
        return new StoredJob(new JobRecord(spec, state, position), (long)fields[2], fields[3].IsNull ? null : (string?)fields[3]);
    }

    public async Task<long> ChangeAsync(EditSpec job, JobStatus[] from, JobState state, string kind, string? requiredWorker = null,
        string? newWorker = null, IReadOnlyList<byte[]>? results = null)
    {
        var ttl = state.IsFinished ? (long)Math.Ceiling(job.ResultRetention.TotalSeconds) : 0;
        var version = await RedisConnection.Call(async () => (long)await redis.Database.ScriptEvaluateAsync(TransitionScript,
            [RedisKeys.Job(job.Id), RedisKeys.Queued, RedisKeys.Result(job.Id), RedisKeys.Inputs(job.Id), RedisKeys.Expiring],
            [string.Join(',', from.Select(JobState.NameOf)), JobState.NameOf(state.Status), JsonSerializer.Serialize(state, RedisConnection.Json), kind,
                ttl, requiredWorker ?? "", newWorker ?? "", job.Id, RedisKeys.QueueMovedChannel, RedisKeys.Events(job.Id), .. (results ?? []).Select(image => (RedisValue)image)]));
        return version;
    }

    // KEYS: job. ARGV: job id, cancel channel. Only a job still running gets the flag (a job that ended and expired must not come back as a bare flag).
    const string AskToStopScript = """
        if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
        redis.call('HSET', KEYS[1], 'cancel', 1)
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 1
        """;

    /// <summary>The flag stays in the job for a worker that takes it later (a claim); the announcement reaches the one running it now.</summary>
    public async Task<bool> AskToStopAsync(string id) =>
        (long)await RedisConnection.Call(() => redis.Database.ScriptEvaluateAsync(AskToStopScript, [RedisKeys.Job(id)], [id, RedisKeys.CancelChannel])) == 1;

    // KEYS: expiring. Redis's clock decides, as it does for the keys' own expiry; each id is taken by one caller only.
    const string TakeExpiredScript = """
        local now = redis.call('TIME')
        local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now[1] * 1000 + math.floor(now[2] / 1000), 'LIMIT', 0, 256)
        if #ids > 0 then redis.call('ZREM', KEYS[1], unpack(ids)) end
        return ids
        """;

    /// <summary>
    /// Tells the observers of the finished jobs whose retention ended (their keys expire with it); on every replica
    /// together, each job is told once.
    /// </summary>
    public async Task ForgetExpiredAsync()
    {
        var ids = (RedisValue[])(await RedisConnection.Call(() => redis.Database.ScriptEvaluateAsync(TakeExpiredScript, [RedisKeys.Expiring])))!;
        foreach (var id in ids) observers.Forgotten(id!);
    }
}
