namespace RelationAdapter.Service.Http;

/// <summary>How the service meets the host's conventions: where it listens, and HEAD on every GET route.</summary>
public static class HostingConventions
{
    public const string LocalUrl = "http://localhost:8080";

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
