using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Http;

/// <summary>When API keys are configured, /v1 requires <c>Authorization: Bearer &lt;key&gt;</c> (compared in constant time).</summary>
public sealed class ApiKeyFilter(IOptionsMonitor<AuthOptions> options) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled) return next(context);
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) && IsKnown(header[scheme.Length..].Trim(), settings.ApiKeys))
            return next(context);
        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return ValueTask.FromResult<object?>(Problems.Problem(StatusCodes.Status401Unauthorized, Problems.Types.Unauthorized,
            "An API key is required.", "Send 'Authorization: Bearer <key>' with a configured key."));
    }

    static bool IsKnown(string presented, IEnumerable<string> keys)
    {
        var candidate = Encoding.UTF8.GetBytes(presented);
        var found = false;
        foreach (var key in keys.Where(k => !string.IsNullOrWhiteSpace(k)))
            found |= CryptographicOperations.FixedTimeEquals(candidate, Encoding.UTF8.GetBytes(key));
        return found;
    }
}
