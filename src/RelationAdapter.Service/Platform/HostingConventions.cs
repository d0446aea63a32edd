namespace RelationAdapter.Service.Platform;

/// <summary>How the service meets the host's conventions: where it listens, HEAD on every GET route, problems for oversized heads.</summary>
public static class HostingConventions
{
    public const string LocalUrl = "http://localhost:8080";

    /// <summary>The request-line and header limits the service answers with problem details (Kestrel's defaults).</summary>
    public const int MaxRequestTarget = 8 * 1024, MaxHeaderBytes = 32 * 1024;

    /// <summary>
    /// Kestrel answers requests over its own limits with an empty body. So Kestrel's limits are set well above
    /// ours (<see cref="KestrelRequestLine"/>, <see cref="KestrelHeaders"/>) and the service enforces its own first,
    /// with problem details; only a request beyond Kestrel's gets the bare status.
    /// </summary>
    public const int KestrelRequestLine = 8 * MaxRequestTarget, KestrelHeaders = 4 * MaxHeaderBytes;

    /// <summary>414 and 431 as problem details for request targets and headers over the service's limits.</summary>
    public static IApplicationBuilder UseRequestHeadLimits(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var target = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "";
        var headerBytes = http.Request.Headers.Sum(header => header.Key.Length + header.Value.Sum(value => value?.Length ?? 0) + 4);
        var refused = target.Length > MaxRequestTarget
            ? Problems.Problem(StatusCodes.Status414UriTooLong, Problems.Types.UriTooLong, "The request target is too long.",
                $"It is {target.Length} characters; the limit is {MaxRequestTarget}.")
            : headerBytes > MaxHeaderBytes
                ? Problems.Problem(StatusCodes.Status431RequestHeaderFieldsTooLarge, Problems.Types.HeadersTooLarge, "The request headers are too large.",
                    $"They take {headerBytes} bytes; the limit is {MaxHeaderBytes}.")
                : null;
        if (refused is null) await next(http);
        else await refused.ExecuteAsync(http);
    });

    /// <summary>
    /// The address to listen on when nothing else says (ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS or
    /// ASPNETCORE_HTTPS_PORTS, --urls): this machine only, port 8080. Containers set ASPNETCORE_HTTP_PORTS.
    /// </summary>
    public static string? DefaultUrl(IConfiguration configuration) =>
        new[] { "urls", "http_ports", "https_ports" }.Any(key => !string.IsNullOrEmpty(configuration[key])) ? null : LocalUrl;

    /// <summary>
    /// HEAD is answered as GET without the body (RFC 9110), so every GET route — health probes, a result's
    /// size and type — also answers HEAD, without a second set of routes in the OpenAPI document.
    /// </summary>
    public static IApplicationBuilder UseHeadAsGet(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (!HttpMethods.IsHead(http.Request.Method))
        {
            await next(http);
            return;
        }
        http.Request.Method = HttpMethods.Get;
        var body = http.Response.Body;
        http.Response.Body = Stream.Null;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = body;
            http.Request.Method = HttpMethods.Head;
        }
    });
}
