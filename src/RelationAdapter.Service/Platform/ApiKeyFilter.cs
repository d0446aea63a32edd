using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// When API keys are configured, /v1 requires <c>Authorization: Bearer &lt;key&gt;</c> (compared in constant time)
/// and the request carries the key's name: jobs belong to it, logs and traces show it.
/// </summary>
public sealed class ApiKeyFilter(IOptionsMonitor<AuthOptions> options, ResultLinks links, ILogger<ApiKeyFilter> logger) : IEndpointFilter
{
    static readonly object CallerItem = new();

    /// <summary>The one route a signed link opens.</summary>
    public const string SignedRoute = "GetEditResultAt";

    /// <summary>The name of the request's API key; null when the API is open.</summary>
    public static string? Caller(HttpContext http) => http.Items.TryGetValue(CallerItem, out var name) ? (string?)name : null;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // A signed result link stands in for the key, on the results route only, until it expires.
        switch (links.Check(http))
        {
            case LinkCheck.Valid when http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == SignedRoute:
                return await next(context);
            case LinkCheck.Valid or LinkCheck.Invalid:
                return Problems.Problem(StatusCodes.Status403Forbidden, Problems.Types.InvalidLink, "The link is not valid.",
                    "Its signature does not match its path and expiry (or it is not a result link); use the link as the service gave it.");
            case LinkCheck.Expired:
                return Problems.Problem(StatusCodes.Status403Forbidden, Problems.Types.InvalidLink, "The link has expired.",
                    "A result link works until the job's expires_at; read the job again (with the API key) for its result, if it is still kept.");
        }
        var settings = options.CurrentValue;
        if (!settings.Enabled) return await next(context);
        var header = http.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && Find(header[scheme.Length..].Trim(), settings.ApiKeys) is { } key)
        {
            http.Items[CallerItem] = key.Name;
            System.Diagnostics.Activity.Current?.SetTag("ra.api_key", key.Name);
            using (logger.BeginScope(new Dictionary<string, object> { ["ApiKey"] = key.Name }))
                return await next(context);
        }
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return Problems.Problem(StatusCodes.Status401Unauthorized, Problems.Types.Unauthorized,
            "An API key is required.", "Send 'Authorization: Bearer <key>' with a configured key.");
    }

    /// <summary>The configured key presented, compared with every key in constant time.</summary>
    static ApiKey? Find(string presented, IEnumerable<ApiKey> keys)
    {
        var candidate = Encoding.UTF8.GetBytes(presented);
        ApiKey? found = null;
        foreach (var key in keys)
            if (CryptographicOperations.FixedTimeEquals(candidate, Encoding.UTF8.GetBytes(key.Key))) found = key;
        return found;
    }
}
