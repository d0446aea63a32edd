using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>What a request's link signature says.</summary>
public enum LinkCheck { Unsigned, Valid, Expired, Invalid }

/// <summary>
/// Absolute, signed links to a job's results: <c>{base}/v1/edits/{id}/results/{index}?expires=…&amp;signature=…</c>, where the
/// signature is HMAC-SHA256 over the path and the expiry. Such a link is fetched without an API key (a webhook consumer,
/// a browser) until the job's <c>expires_at</c>; a changed path or expiry, or a later time, is refused.
/// </summary>
public sealed class ResultLinks(IOptions<ServiceOptions> options, TimeProvider time)
{
    public const string ExpiresParameter = "expires", SignatureParameter = "signature";
    static readonly object SignedItem = new();

    readonly byte[] _key = options.Value.LinkSigningKey is { Length: > 0 } key ? Encoding.UTF8.GetBytes(key) : RandomNumberGenerator.GetBytes(32);
    readonly string? _publicBase = options.Value.PublicBaseUrl?.TrimEnd('/');

    /// <summary>The base of the links made for a job submitted through <paramref name="request"/>.</summary>
    public string BaseUrlOf(HttpRequest request) => _publicBase ?? $"{request.Scheme}://{request.Host}{request.PathBase}";

    public static string ResultPath(string jobId, int index) => $"/v1/edits/{jobId}/results/{index}";

    /// <summary>Result <paramref name="index"/>'s link: absolute and signed where the job knows its base and expiry, else the API path.</summary>
    public string Url(EditSpec job, int index, DateTimeOffset? expires)
    {
        var path = ResultPath(job.Id, index);
        if (job.BaseUrl is null || expires is null) return path;
        var at = expires.Value.ToUnixTimeSeconds();
        return $"{job.BaseUrl}{path}?{ExpiresParameter}={at}&{SignatureParameter}={Sign(path, at)}";
    }

    string Sign(string path, long expires) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{path}\n{expires}")));

    /// <summary>Checks the request's signature against its own path; a valid one marks the request (<see cref="IsSigned"/>).</summary>
    public LinkCheck Check(HttpContext http)
    {
        var query = http.Request.Query;
        if (!query.ContainsKey(SignatureParameter) && !query.ContainsKey(ExpiresParameter)) return LinkCheck.Unsigned;
        if (!long.TryParse(query[ExpiresParameter], out var expires)) return LinkCheck.Invalid;
        var expected = Encoding.ASCII.GetBytes(Sign(http.Request.Path.Value ?? "", expires));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(query[SignatureParameter].ToString()))) return LinkCheck.Invalid;
        if (time.GetUtcNow().ToUnixTimeSeconds() > expires) return LinkCheck.Expired;
        http.Items[SignedItem] = true;
        return LinkCheck.Valid;
    }

    /// <summary>Whether the request came through a valid signed link (it then needs no API key and no ownership).</summary>
    public static bool IsSigned(HttpContext http) => http.Items.ContainsKey(SignedItem);
}
