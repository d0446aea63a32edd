using System.Security.Cryptography;
using RelationAdapter.Core.Pipeline;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;

namespace RelationAdapter.Service.Caching;

/// <summary>A cached relation: its tokens and when it was made.</summary>
public sealed record CachedRelation(string Id, RelationTokens Tokens, DateTimeOffset CreatedAt);

/// <summary>
/// Relation tokens of exemplar pairs, keyed by a content id (SHA-256 of both images' bytes and the
/// adapter identity), in a size-limited memory cache with sliding expiry. A store always lands: the least
/// recently used relations are evicted to make room for it.
/// </summary>
public sealed class RelationCache : IDisposable
{
    readonly MemoryCache _cache;
    readonly RelationCacheOptions _options;
    readonly ServiceTelemetry _telemetry;
    readonly Lock _storeGate = new();

    public RelationCache(IOptions<RelationCacheOptions> options, ServiceTelemetry telemetry)
    {
        _options = options.Value;
        _telemetry = telemetry;
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

    /// <summary>Looks an id up, counting a hit or a miss.</summary>
    public CachedRelation? Lookup(string id)
    {
        var found = Peek(id);
        (found is null ? _telemetry.RelationCacheMisses : _telemetry.RelationCacheHits).Add(1);
        return found;
    }

    /// <summary>Looks an id up without counting it (for GET /v1/relations/{id}).</summary>
    public CachedRelation? Peek(string id) => _cache.TryGetValue(id, out CachedRelation? found) ? found : null;

    /// <summary>Stores the tokens, evicting least recently used relations to make room; throws when they exceed the whole cache.</summary>
    public CachedRelation Store(string id, RelationTokens tokens, DateTimeOffset now)
    {
        var size = Math.Max(1, tokens.Bytes);
        if (size > _options.SizeLimitBytes)
            throw new InvalidOperationException(
                $"a relation takes {size} bytes but RelationCache:SizeLimitBytes is {_options.SizeLimitBytes}: raise the limit.");
        var entry = new CachedRelation(id, tokens, now);
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
