using System.Globalization;

namespace RelationAdapter.Service.Platform;

/// <summary>Adds <c>Management:Port</c> to where the server listens, beside the main address.</summary>
public static class ManagementPort
{
    /// <summary>
    /// ASP.NET Core takes one source of addresses (URLs, else HTTP/HTTPS ports; endpoints configured in code would
    /// replace them), so the port joins whichever source is in use: a URL on the first URL's host, or one more
    /// HTTP port. Call it after the default address is set.
    /// </summary>
    public static WebApplicationBuilder ListenOnManagementPort(this WebApplicationBuilder builder)
    {
        if (builder.Configuration.ReadSection<ManagementOptions>(ManagementOptions.Section).Port is not { } port) return builder;
        var configuration = builder.Configuration;
        var text = port.ToString(CultureInfo.InvariantCulture);
        if (List(configuration["urls"]) is { Length: > 0 } addresses)
        {
            var bindings = addresses.Select(BindingAddress.Parse).ToList();
            Refuse(port, bindings.Select(b => b.Port));
            builder.WebHost.UseUrls([.. addresses, $"http://{bindings[0].Host}:{text}"]);
        }
        else
        {
            var ports = List(configuration["http_ports"]);
            Refuse(port, ports.Concat(List(configuration["https_ports"])).Select(p => int.Parse(p, CultureInfo.InvariantCulture)));
            builder.WebHost.UseSetting("http_ports", string.Join(';', [.. ports, text]));
        }
        return builder;
    }

    /// <summary>A setting's ';'-separated entries (ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS, …).</summary>
    static string[] List(string? setting) =>
        setting?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];

    static void Refuse(int port, IEnumerable<int> mainPorts)
    {
        if (mainPorts.Contains(port))
            throw new InvalidOperationException($"Management:Port {port} is also the main port: the management port must be a port of its own.");
    }
}
