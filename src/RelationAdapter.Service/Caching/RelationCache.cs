using System.Security.Cryptography;
using RelationAdapter.Core.Pipeline;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;

namespace RelationAdapter.Service.Caching;

/// <summary>A cached relation: its tokens and when it was made.</summary>
public sealed record CachedRelation(string Id, RelationTokens Tokens, DateTimeOffset CreatedAt);

/// <summary>
/// Relation tokens of exemplar pairs, keyed by a content id (SHA-256 of both images' bytes and the
/// adapter identity), in a size-limited memory cache with sliding expiry.
/// </summary>
public sealed class RelationCache : IDisposable
{
    readonly MemoryCache _cache;
    readonly RelationCacheOptions _options;
    readonly ServiceTelemetry _telemetry;

    public RelationCache(IOptions<RelationCacheOptions> options, ServiceTelemetry telemetry)
    {
        _options = options.Value;
        _telemetry = telemetry;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.SizeLimitBytes });
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

    public CachedRelation Store(string id, RelationTokens tokens, DateTimeOffset now)
    {
        var entry = new CachedRelation(id, tokens, now);
        _cache.Set(id, entry, new MemoryCacheEntryOptions { Size = Math.Max(1, tokens.Bytes), SlidingExpiration = _options.SlidingExpiration });
        return entry;
    }

    public void Dispose() => _cache.Dispose();
}
