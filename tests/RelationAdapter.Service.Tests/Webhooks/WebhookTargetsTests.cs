using System.Net;
using System.Net.Sockets;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Webhooks;

[Trait("Category", "Unit")]
public class WebhookTargetsTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("/hooks/edits")]
    [InlineData("hooks/edits")]
    [InlineData("example.com/hooks")]
    [InlineData("ftp://example.com/hooks")]
    [InlineData("file:///etc/passwd")]
    [InlineData("javascript:alert(1)")]
    [InlineData("https://user:password@example.com/hooks")]
    [InlineData("https://token@example.com/hooks")]
    public void Refuses_what_is_not_a_plain_absolute_http_url(string? url)
    {
        Assert.NotNull(WebhookTargets.Refusal(url, allowPrivateNetworks: false));
        Assert.NotNull(WebhookTargets.Refusal(url, allowPrivateNetworks: true));
    }

    [Fact]
    public void Refuses_an_overlong_url() =>
        Assert.Contains("longer", WebhookTargets.Refusal("https://example.com/" + new string('a', WebhookTargets.MaxUrlLength), false));

    [Theory]
    [InlineData("https://example.com/hooks")]
    [InlineData("http://example.com:8080/hooks?token=abc#frag")]
    [InlineData("https://8.8.8.8/hooks")]
    [InlineData("https://[2606:4700:4700::1111]/hooks")]
    [InlineData("https://bücher.example/hooks")]
    public void Accepts_public_http_and_https_urls(string url) => Assert.Null(WebhookTargets.Refusal(url, allowPrivateNetworks: false));

    [Theory]
    [InlineData("http://127.0.0.1:5000/hooks", "loopback")]
    [InlineData("http://localhost:5000/hooks", "localhost")]
    [InlineData("http://LOCALHOST./hooks", "localhost")]
    [InlineData("http://api.localhost/hooks", "localhost")]
    [InlineData("http://[::1]/hooks", "loopback")]
    [InlineData("http://[::ffff:127.0.0.1]/hooks", "loopback")]
    [InlineData("http://10.1.2.3/hooks", "private")]
    [InlineData("http://192.168.0.10/hooks", "private")]
    [InlineData("http://169.254.169.254/latest/meta-data/", "link-local")]
    [InlineData("http://0.0.0.0:8080/", "unspecified")]
    [InlineData("http://2130706433/", "loopback")]
    public void Refuses_private_targets_named_in_the_url_unless_allowed(string url, string kind)
    {
        Assert.Contains(kind, WebhookTargets.Refusal(url, allowPrivateNetworks: false));
        Assert.Null(WebhookTargets.Refusal(url, allowPrivateNetworks: true));
    }

    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.255.254", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("10.0.0.1", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("fc00::1", "private")]
    [InlineData("fd12:3456::1", "private")]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("febf::1", "link-local")]
    [InlineData("100.64.0.1", "carrier-grade NAT")]
    [InlineData("100.127.255.255", "carrier-grade NAT")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:10.0.0.1", "private")]
    [InlineData("::ffff:169.254.169.254", "link-local")]
    [InlineData("64:ff9b::a9fe:a9fe", "link-local")]
    [InlineData("::127.0.0.1", "reserved")]
    public void Names_the_kind_of_a_refused_address(string address, string kind) =>
        Assert.Contains(kind, WebhookTargets.AddressRefusal(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("169.255.0.1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    public void Lets_public_addresses_through(string address) => Assert.Null(WebhookTargets.AddressRefusal(IPAddress.Parse(address)));

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("10.0.0.1")]
    [InlineData("169.254.169.254")]
    public async Task Connecting_to_a_private_address_is_refused_before_any_packet_is_sent(string host)
    {
        using var listener = Listen();
        var refused = await Assert.ThrowsAsync<WebhookTargetRefusedException>(async () =>
            await WebhookConnections.ConnectAsync(new DnsEndPoint(host, Port(listener)), allowPrivateNetworks: false, CancellationToken.None));
        Assert.DoesNotContain("127.0.0.1", refused.Message.Replace(host, ""));
        Assert.False(listener.Pending());
    }

    [Fact]
    public async Task Connecting_to_loopback_works_when_private_networks_are_allowed()
    {
        using var listener = Listen();
        await using var stream = await WebhookConnections.ConnectAsync(new DnsEndPoint("localhost", Port(listener)), allowPrivateNetworks: true, CancellationToken.None);
        using var accepted = await listener.AcceptSocketAsync();
        Assert.True(accepted.Connected);
    }

    static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;
}
