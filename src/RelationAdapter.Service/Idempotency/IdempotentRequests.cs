using System.Security.Cryptography;
using System.Text;
using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Idempotency;

/// <summary>
/// <c>Idempotency-Key</c> (Stripe's semantics): the same key and the same request within the retention get
/// the original outcome — concurrent duplicates wait for the first and make nothing themselves; the same key
/// with another request is refused. Keys are scoped by API key and route. A request that fails without
/// making anything leaves its key free, so the client can retry it.
/// </summary>
public sealed class IdempotentRequests(IIdempotencyKeys keys)
{
    /// <summary>A key's scope: the caller's API key and the route.</summary>
    public static string Scope(HttpContext http, string route, string key) => $"{ApiKeyFilter.Caller(http)}\n{route}\n{key}";

    /// <summary>Whether the key was used in this scope (within the retention).</summary>
    public Task<bool> KnowsAsync(string scope) => keys.KnowsAsync(scope);

    /// <inheritdoc cref="IIdempotencyKeys.BeginAsync"/>
    public async Task<(IIdempotencyClaim? Claim, IdempotentOutcome? Replay, bool Reused)> BeginAsync(string scope, IFormCollection request,
        Func<IdempotentOutcome, Task<bool>> stillThere, CancellationToken cancellation) =>
        await keys.BeginAsync(scope, Fingerprint(request), stillThere, cancellation);

    /// <summary>The request as content: every field and every file's hash, taken when admission read it (multipart boundaries and field order aside).</summary>
    static string Fingerprint(IFormCollection form)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, values) in form.OrderBy(field => field.Key, StringComparer.Ordinal))
            hash.AppendData(Encoding.UTF8.GetBytes($"field:{name}={string.Join('\u0000', values.ToArray())}\n"));
        foreach (var file in form.Files.OrderBy(file => file.Name, StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"file:{file.Name}:{file.Length}\n"));
            hash.AppendData(ReadUpload.Of(file).Sha256);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

public static class IdempotencyRegistration
{
    /// <summary><c>Idempotency-Key</c> on both POSTs, over the backend's <see cref="IIdempotencyKeys"/>.</summary>
    public static IServiceCollection AddIdempotency(this IServiceCollection services) => services.AddSingleton<IdempotentRequests>();
}
