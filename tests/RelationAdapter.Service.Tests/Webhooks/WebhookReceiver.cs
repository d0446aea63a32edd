using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace RelationAdapter.Service.Tests.Webhooks;

/// <summary>A webhook as a receiver saw it, and whether its signature held under the test's own check.</summary>
public sealed record ReceivedWebhook(
    string? Id, string? Timestamp, string? Signature, string? ContentType, string? UserAgent, byte[] Body, DateTimeOffset At, bool SignatureValid);

/// <summary>
/// A real receiver on Kestrel (loopback, a free port). It answers each POST with the status <c>answer</c> gives for
/// the request's number (1, 2, …); its signature check is written from the Standard Webhooks text, apart from the
/// service's <c>WebhookSignature</c>.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    readonly string _secret;
    readonly Func<int, CancellationToken, Task<int>> _answer;
    WebApplication? _app;
    int _count;

    public Uri Url { get; private set; } = null!;
    public IReadOnlyList<ReceivedWebhook> Received => _received.ToArray();

    WebhookReceiver(string secret, Func<int, CancellationToken, Task<int>> answer) => (_secret, _answer) = (secret, answer);

    /// <summary>Answers with <paramref name="statuses"/> in turn, and with the last one from then on.</summary>
    public static Task<WebhookReceiver> StartAsync(string secret, params int[] statuses) =>
        StartAsync(secret, (number, _) => Task.FromResult(statuses[Math.Min(number, statuses.Length) - 1]));

    public static async Task<WebhookReceiver> StartAsync(string secret, Func<int, CancellationToken, Task<int>> answer)
    {
        var receiver = new WebhookReceiver(secret, answer);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/hooks/edits", receiver.ReceiveAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver._app = app;
        receiver.Url = new Uri(new Uri(address), "/hooks/edits?token=t0ken");
        return receiver;
    }

    async Task<IResult> ReceiveAsync(HttpRequest request, CancellationToken aborted)
    {
        var number = Interlocked.Increment(ref _count);
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, aborted);
        var body = buffer.ToArray();
        string? Header(string name) => request.Headers.TryGetValue(name, out var value) ? value.ToString() : null;
        var (id, timestamp, signature) = (Header("webhook-id"), Header("webhook-timestamp"), Header("webhook-signature"));
        _received.Enqueue(new ReceivedWebhook(id, timestamp, signature, request.ContentType, Header("User-Agent"), body, DateTimeOffset.UtcNow,
            Verify(_secret, id, timestamp, signature, body)));
        return Results.StatusCode(await _answer(number, aborted));
    }

    /// <summary>
    /// The check a receiver makes: the signature is <c>v1,</c> + base64 HMAC-SHA256, keyed with the secret's base64
    /// after <c>whsec_</c>, of <c>id.timestamp.body</c>; the header may list several, space-separated; the
    /// timestamp is within five minutes of now.
    /// </summary>
    public static bool Verify(string secret, string? id, string? timestamp, string? signatureHeader, byte[] body)
    {
        if (id is null || timestamp is null || signatureHeader is null || !long.TryParse(timestamp, out var seconds)) return false;
        if (Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300) return false;
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        byte[] signed = [.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body];
        var expected = HMACSHA256.HashData(key, signed);
        return signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(candidate => candidate.StartsWith("v1,", StringComparison.Ordinal))
            .Any(candidate => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(candidate[3..]), Encoding.ASCII.GetBytes(Convert.ToBase64String(expected))));
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
