using System.Security.Cryptography;
using RelationAdapter.Core.Pipeline;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Jobs.Relations;

/// <summary>A cached relation: its tokens and when it was made.</summary>
public sealed record CachedRelation(string Id, RelationTokens Tokens, DateTimeOffset CreatedAt);

/// <summary>A second level shared by every replica (Redis), behind this process's memory.</summary>
public interface ISharedRelationStore
{
    Task<CachedRelation?> GetAsync(string id);
    Task SetAsync(CachedRelation relation);

    /// <summary>
    /// Restarts the shared copy's expiry, and stores the relation again when that copy is gone (expired, evicted,
    /// flushed): a replica that holds it in memory must never queue work that another replica cannot find.
    /// </summary>
    Task KeepAsync(CachedRelation relation);

    /// <summary>Whether <paramref name="owner"/> made or used the relation (its expiry restarts when so).</summary>
    Task<bool> OwnsAsync(string owner, string id);

    /// <summary>Records that <paramref name="owner"/> made or used the relation; false when it already had.</summary>
    Task<bool> GrantAsync(string owner, string id);
}

/// <summary>
/// Relation tokens of exemplar pairs, keyed by a content id (SHA-256 of both images' bytes and the
/// adapter identity), in a size-limited memory cache with sliding expiry, and in the shared store when there
/// is one (so a relation made on one replica is a hit on all). A store always lands: the least recently used
/// relations are evicted to make room for it.
/// </summary>
public sealed class RelationCache : IDisposable
{
    readonly MemoryCache _cache;
    readonly RelationCacheOptions _options;
    readonly ServiceTelemetry _telemetry;
    readonly ISharedRelationStore? _shared;
    readonly Lock _storeGate = new();

    readonly ILogger<RelationCache> _logger;

    public RelationCache(IOptions<RelationCacheOptions> options, ServiceTelemetry telemetry, ILogger<RelationCache> logger, ISharedRelationStore? shared = null)
    {
        _logger = logger;
        _options = options.Value;
        _telemetry = telemetry;
        _shared = shared;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.SizeLimitBytes, TrackStatistics = true });
    }

    public static string IdFor(ReadOnlySpan<byte> promptImage, ReadOnlySpan<byte> referenceImage, string adapterIdentity)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var part in new[] { promptImage.ToArray(), referenceImage.ToArray(), System.Text.Encoding.UTF8.GetBytes(adapterIdentity) })
        {
            hash.AppendData(BitConverter.GetBytes((long)part.Length));
            hash.AppendData(part);
        }
        return "rel_" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Looks an id up for work about to be queued, counting a hit or a miss. A hit in memory restarts the shared
    /// copy's expiry too (storing it again if it is gone), so the worker that runs the work finds it; that
    /// failing throws, since nothing may be queued that its worker cannot run.
    /// </summary>
    public async Task<CachedRelation?> LookupAsync(string id)
    {
        var found = await FindAsync(id, keepShared: true);
        (found is null ? _telemetry.RelationCacheMisses : _telemetry.RelationCacheHits).Add(1);
        return found;
    }

    /// <summary>Looks an id up without counting it; the shared copy's expiry restarts when it can (a Redis away is no error here).</summary>
    public Task<CachedRelation?> PeekAsync(string id) => FindAsync(id, keepShared: false);

    async Task<CachedRelation?> FindAsync(string id, bool keepShared)
    {
        if (_cache.TryGetValue(id, out CachedRelation? found))
        {
            if (_shared is null) return found;
            try
            {
                await _shared.KeepAsync(found!);
            }
            catch (Exception e) when (!keepShared)
            {
                _logger.LogDebug(e, "Relation {RelationId}: the shared copy's expiry could not be restarted", id);
            }
            return found;
        }
        if (_shared is null || await _shared.GetAsync(id) is not { } shared) return null;
        return StoreLocally(shared);
    }

    /// <summary>
    /// Relations belong to the API keys that made or used them: another key neither reads one nor edits with its id
    /// (it may upload the same pair and get its own). Without API keys (<paramref name="owner"/> null) all are everyone's.
    /// </summary>
    public async Task<bool> OwnsAsync(string? owner, string id)
    {
        if (owner is null || _cache.TryGetValue(OwnerKey(owner, id), out _)) return true;
        if (_shared is null || !await _shared.OwnsAsync(owner, id)) return false;
        RememberOwner(owner, id);
        return true;
    }

    /// <summary>Makes the relation <paramref name="owner"/>'s too; true when it was not before (its first upload: 201).</summary>
    public async Task<bool> GrantAsync(string? owner, string id)
    {
        if (owner is null) return false;
        var first = _shared is null ? !_cache.TryGetValue(OwnerKey(owner, id), out _) : await _shared.GrantAsync(owner, id);
        RememberOwner(owner, id);
        return first;
    }

    static string OwnerKey(string owner, string id) => $"owner\n{owner}\n{id}";

    void RememberOwner(string owner, string id) =>
        _cache.Set(OwnerKey(owner, id), true, new MemoryCacheEntryOptions { Size = 1, SlidingExpiration = _options.SlidingExpiration });

    /// <summary>
    /// Stores the tokens here and in the shared store, evicting least recently used relations to make room; throws when
    /// they exceed the whole cache. <paramref name="shareRequired"/> false: a shared store that fails is logged, not thrown
    /// (an edit that encoded its pair itself needs only its own copy).
    /// </summary>
    public CachedRelation Store(string id, RelationTokens tokens, DateTimeOffset now, bool shareRequired = true)
    {
        var entry = StoreLocally(new CachedRelation(id, tokens, now));
        try
        {
            _shared?.SetAsync(entry).GetAwaiter().GetResult();
        }
        catch (Exception e) when (!shareRequired)
        {
            _logger.LogWarning(e, "Relation {RelationId} is cached on this replica only: the shared store refused it", id);
        }
        return entry;
    }

    CachedRelation StoreLocally(CachedRelation entry)
    {
        var (id, tokens) = (entry.Id, entry.Tokens);
        var size = Math.Max(1, tokens.Bytes);
        if (size > _options.SizeLimitBytes)
            throw new InvalidOperationException(
                $"a relation takes {size} bytes but RelationCache:SizeLimitBytes is {_options.SizeLimitBytes}: raise the limit.");
        var entryOptions = new MemoryCacheEntryOptions { Size = size, SlidingExpiration = _options.SlidingExpiration };
        // MemoryCache refuses an entry that does not fit instead of evicting for it, and evicts only later in
        // the background; so make room first, synchronously, and check that the entry landed.
        lock (_storeGate)
        {
            for (var refused = 0; ; refused++)
            {
                var used = _cache.GetCurrentStatistics()?.CurrentEstimatedSize ?? 0;
                var excess = used + size - _options.SizeLimitBytes;
                // Compact frees at least that fraction of the used bytes, least recently used first.
                var toFree = refused == 0 ? excess : size * (long)refused;
                if (toFree > 0) _cache.Compact(Math.Min(1.0, (double)toFree / Math.Max(1, used)));
                _cache.Set(id, entry, entryOptions);
                if (_cache.TryGetValue(id, out _)) return entry;
                if (used == 0) throw new InvalidOperationException($"relation {id} could not be cached.");
            }
        }
    }

    public void Dispose() => _cache.Dispose();
}
