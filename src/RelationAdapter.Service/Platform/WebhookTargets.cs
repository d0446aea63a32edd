using System.Net;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// Which URLs and addresses a webhook may reach. Unless private networks are allowed, a request must not be able to
/// make the service call into the network it runs in (SSRF): cloud metadata, admin ports, other replicas.
/// </summary>
public static class WebhookTargets
{
    public const int MaxUrlLength = 2048;

    // Checked in order, so the more telling kind names an address that lies in two ranges.
    static readonly (IPNetwork Range, string Kind)[] Refused =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified address"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private network address"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private network address"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private network address"),
        (IPNetwork.Parse("100.64.0.0/10"), "a carrier-grade NAT address"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local address"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved address"),
        (IPNetwork.Parse("198.18.0.0/15"), "a reserved address"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address"),
        (IPNetwork.Parse("255.255.255.255/32"), "the broadcast address"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved address"),
        (IPNetwork.Parse("::/128"), "an unspecified address"),
        (IPNetwork.Parse("::1/128"), "a loopback address"),
        // IPv4-compatible addresses (deprecated): nothing public is reached this way.
        (IPNetwork.Parse("::/96"), "a reserved address"),
        (IPNetwork.Parse("fe80::/10"), "a link-local address"),
        (IPNetwork.Parse("fec0::/10"), "a private network address"),
        (IPNetwork.Parse("fc00::/7"), "a private network address"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "a private network address"),
        (IPNetwork.Parse("ff00::/8"), "a multicast address"),
    ];

    // NAT64's well-known prefix carries an IPv4 address in its last 32 bits, which a NAT64 gateway then reaches.
    static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");

    /// <summary>
    /// Why a requested webhook URL is refused, or null when it may be used: it must be absolute http or https, carry
    /// no credentials and name a host; without private networks, a host that is localhost or an address literal of a
    /// refused kind is refused here already. Names that resolve to refused addresses are caught when connecting.
    /// </summary>
    /// <remarks><paramref name="subject"/> names the URL in the messages (image URLs are checked the same way).</remarks>
    public static string? Refusal(string? url, bool allowPrivateNetworks, string subject = "The webhook")
    {
        var notAbsoluteHttp = $"{subject} must be an absolute http or https URL.";
        if (string.IsNullOrWhiteSpace(url)) return notAbsoluteHttp;
        if (url.Length > MaxUrlLength) return $"{subject} URL is longer than {MaxUrlLength} characters.";
        // On Unix "/path" parses as an absolute file: URI, so the scheme check is what refuses relative URLs.
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")) return notAbsoluteHttp;
        if (uri.UserInfo.Length > 0) return $"{subject} URL must not carry a user name or password.";
        if (uri.IdnHost.Length == 0) return $"{subject} URL names no host.";
        if (allowPrivateNetworks) return null;
        if (IsLocalhost(uri.IdnHost)) return $"{subject} URL names this machine (localhost).";
        return IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var literal) && AddressRefusal(literal) is { } kind
            ? $"{subject} URL points to {kind}."
            : null;
    }

    /// <summary>The kind of address that makes it refused ("a loopback address", …), or null for a public address.</summary>
    public static string? AddressRefusal(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        else if (Nat64.Contains(address)) address = new IPAddress(address.GetAddressBytes()[12..]);
        foreach (var (range, kind) in Refused)
            if (range.Contains(address)) return kind;
        return null;
    }

    // RFC 6761: every name under .localhost is this machine, whatever DNS says.
    static bool IsLocalhost(string host)
    {
        var name = host.TrimEnd('.');
        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }
}
