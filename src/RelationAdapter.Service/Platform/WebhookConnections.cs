using System.Net;
using System.Net.Sockets;

namespace RelationAdapter.Service.Platform;

/// <summary>A webhook target the service will not connect to; the attempt is recorded as refused and not retried.</summary>
public sealed class WebhookTargetRefusedException(string message) : Exception(message);

/// <summary>
/// The HTTP handler webhooks are sent through. The address check runs when connecting, on the very addresses the
/// socket connects to, so a name that resolved to a public address when the request was checked and to a private
/// one now (DNS rebinding) is still refused.
/// </summary>
public static class WebhookConnections
{
    public static SocketsHttpHandler CreateHandler(bool allowPrivateNetworks, string subject = "webhooks (Webhooks:AllowPrivateNetworks)") => new()
    {
        // A redirect would lead to a target nobody checked; a receiver that moved answers 3xx and is retried, not followed.
        AllowAutoRedirect = false,
        // Through a proxy the check would see only the proxy's address, and the proxy would connect anywhere.
        UseProxy = false,
        UseCookies = false,
        ConnectCallback = (context, cancellation) => ConnectAsync(context.DnsEndPoint, allowPrivateNetworks, cancellation, subject),
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    };

    /// <summary>Resolves the host and connects to its permitted addresses only; throws <see cref="WebhookTargetRefusedException"/> when none is.</summary>
    public static async ValueTask<Stream> ConnectAsync(DnsEndPoint endPoint, bool allowPrivateNetworks, CancellationToken cancellation, string subject = "webhooks (Webhooks:AllowPrivateNetworks)")
    {
        var host = endPoint.Host.Trim('[', ']');
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellation);
        var permitted = allowPrivateNetworks ? addresses : addresses.Where(address => WebhookTargets.AddressRefusal(address) is null).ToArray();
        if (permitted.Length == 0)
        {
            // The kind, not the address: the job's owner reads this and need not learn the internal network's layout.
            var kinds = addresses.Select(WebhookTargets.AddressRefusal).Distinct().ToList();
            throw new WebhookTargetRefusedException(addresses.Length == 0
                ? $"{host} resolves to no address."
                : $"{host} resolves only to {string.Join(" or ", kinds)}, which {subject} may not reach.");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(permitted, endPoint.Port, cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
