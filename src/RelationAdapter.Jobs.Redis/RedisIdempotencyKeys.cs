using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Jobs.Redis;

/// <summary>
/// Idempotency keys shared by every replica: one Redis string per key, <c>pending</c> with the claiming request's
/// token while it runs, then its outcome. The first SET NX wins wherever the duplicates land; the others wait
/// for the outcome. A pending claim lapses after <see cref="ClaimLease"/>, so a replica that dies mid-request
/// does not block the key for the whole retention.
/// </summary>
public sealed class RedisIdempotencyKeys(RedisConnection redis, IOptions<IdempotencyOptions> options) : IIdempotencyKeys
{
    static readonly TimeSpan ClaimLease = TimeSpan.FromMinutes(10);
    static readonly TimeSpan PendingPoll = TimeSpan.FromMilliseconds(50);

    // KEYS: key. ARGV: expected value, new value ('' = delete), ttl seconds. Changes the key only if no one else did.
    const string CompareAndSetScript = """
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
        return 1
        """;

    static RedisKey Key(string scope) => RedisKeys.Prefix + "idempotency:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(scope)));

    IDatabase Db => redis.Database;

    public Task<bool> KnowsAsync(string scope) => RedisConnection.Call(() => Db.KeyExistsAsync(Key(scope)));

    public async Task<(IIdempotencyClaim? Claim, IdempotentOutcome? Replay, bool Reused)> BeginAsync(string scope, string fingerprint,
        Func<IdempotentOutcome, Task<bool>> stillThere, CancellationToken cancellation)
    {
        var key = Key(scope);
        while (true)
        {
            var pending = $"{fingerprint}\npending\n{Guid.NewGuid():N}";
            if (await RedisConnection.Call(() => Db.StringSetAsync(key, pending, ClaimLease, When.NotExists)))
                return (new Claim(this, key, pending), null, false);
            var value = (string?)await RedisConnection.Call(() => Db.StringGetAsync(key));
            if (value is null) continue; // freed meanwhile
            var (theirs, state, detail) = value.Split('\n', 3) is [var f, var s, var d] ? (f, s, d) : ("", "", "");
            if (theirs != fingerprint) return (null, null, true);
            if (state == "pending")
            {
                await Task.Delay(PendingPoll, cancellation); // the same request runs elsewhere: wait for its outcome
                continue;
            }
            var outcome = new IdempotentOutcome(int.Parse(state), detail);
            if (await stillThere(outcome)) return (null, outcome, false);
            await CompareAndSetAsync(key, value, null);
        }
    }

    Task<bool> CompareAndSetAsync(RedisKey key, string expected, string? replacement) =>
        RedisConnection.Call(async () => (long)await Db.ScriptEvaluateAsync(CompareAndSetScript, [key],
            [expected, replacement ?? "", (long)options.Value.Retention.TotalSeconds]) == 1);

    sealed class Claim(RedisIdempotencyKeys keys, RedisKey key, string pending) : IIdempotencyClaim
    {
        bool _done;

        /// <summary>
        /// The request's outcome exists already (a job is queued): a Redis blip must not turn it into an error, so the
        /// write is retried a few times; if it still fails, duplicates wait out the claim's lease and then run anew.
        /// </summary>
        public async Task CompleteAsync(IdempotentOutcome outcome)
        {
            _done = true;
            var fingerprint = pending[..pending.IndexOf('\n')];
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await keys.CompareAndSetAsync(key, pending, $"{fingerprint}\n{outcome.StatusCode}\n{outcome.Id}");
                    return;
                }
                catch (Exception e) when (e is BackendUnavailableException or RedisException && attempt < 3)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt));
                }
                catch (Exception e) when (e is BackendUnavailableException or RedisException) { return; }
            }
        }

        // Made nothing: the key is free again, unless the claim lapsed and another request holds it now.
        public void Dispose()
        {
            if (!_done) _ = keys.CompareAndSetAsync(key, pending, null);
        }
    }
}
