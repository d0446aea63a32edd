using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// The bytes of an image a JSON request names: a <c>data:</c> URI (base64), or an http(s) URL fetched with the
/// webhooks' SSRF guard (refused private ranges unless <see cref="InputsOptions.AllowPrivateNetworks"/>, checked again
/// on the addresses connected to and on every redirect), within the file byte limit and the fetch timeout. What the
/// bytes are is decided by their content afterwards, never by the URL.
/// </summary>
public sealed class RemoteImages : IDisposable
{
    readonly InputsOptions _inputs;
    readonly long _maxBytes;
    readonly HttpClient _http;

    public RemoteImages(IOptions<InputsOptions> inputs, IOptions<LimitsOptions> limits)
    {
        _inputs = inputs.Value;
        _maxBytes = limits.Value.MaxFileBytes;
        _http = new HttpClient(WebhookConnections.CreateHandler(_inputs.AllowPrivateNetworks, "image URLs (Inputs:AllowPrivateNetworks)"))
        {
            Timeout = Timeout.InfiniteTimeSpan, // the fetch's own deadline covers redirects and the body
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("RelationAdapter.Service", "1"));
        _http.DefaultRequestHeaders.Accept.ParseAdd("image/*");
    }

    /// <summary>The image's bytes, or why it cannot be had (said of <paramref name="field"/>); a 413 when over the byte limit.</summary>
    public async Task<(byte[]? Bytes, (int Status, string Detail)? Refusal)> ReadAsync(string field, string reference, CancellationToken cancellation)
    {
        if (reference.StartsWith("data:", StringComparison.OrdinalIgnoreCase)) return FromDataUri(reference);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(_inputs.FetchTimeout);
        try
        {
            return await FetchAsync(reference, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellation.IsCancellationRequested)
        {
            return (null, (StatusCodes.Status400BadRequest, $"fetching the image took longer than Inputs:FetchTimeout ({_inputs.FetchTimeout.TotalSeconds:F0} s)."));
        }
        catch (HttpRequestException e)
        {
            var reason = e.InnerException is WebhookTargetRefusedException refused ? refused.Message : e.Message;
            return (null, (StatusCodes.Status400BadRequest, $"the image could not be fetched: {reason}"));
        }
    }

    (byte[]?, (int, string)?) FromDataUri(string uri)
    {
        var comma = uri.IndexOf(',');
        if (comma < 0 || !uri[..comma].EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            return (null, (StatusCodes.Status400BadRequest, "a data: URI must be base64 (data:image/png;base64,…)."));
        var encoded = uri.AsSpan(comma + 1);
        if (encoded.Length / 4 * 3 > _maxBytes) return (null, TooLarge(encoded.Length / 4 * 3));
        var bytes = new byte[encoded.Length / 4 * 3 + 3];
        return Convert.TryFromBase64Chars(encoded, bytes, out var written)
            ? (bytes[..written], null)
            : (null, (StatusCodes.Status400BadRequest, "the data: URI is not valid base64."));
    }

    async Task<(byte[]?, (int, string)?)> FetchAsync(string url, CancellationToken cancellation)
    {
        for (var redirects = 0; ; redirects++)
        {
            if (WebhookTargets.Refusal(url, _inputs.AllowPrivateNetworks, "The image") is { } refused)
                return (null, (StatusCodes.Status400BadRequest, refused + (redirects > 0 ? " (after a redirect)" : "")));
            using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellation);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (redirects == _inputs.MaxRedirects)
                    return (null, (StatusCodes.Status400BadRequest, $"more than {_inputs.MaxRedirects} redirects (Inputs:MaxRedirects)."));
                url = new Uri(new Uri(url), location).ToString();
                continue;
            }
            if (response.StatusCode != HttpStatusCode.OK)
                return (null, (StatusCodes.Status400BadRequest, $"the image URL answered {(int)response.StatusCode} {response.ReasonPhrase}."));
            if (response.Content.Headers.ContentLength > _maxBytes) return (null, TooLarge(response.Content.Headers.ContentLength.Value));
            await using var body = await response.Content.ReadAsStreamAsync(cancellation);
            using var bytes = new MemoryStream();
            var buffer = new byte[81920];
            for (int read; (read = await body.ReadAsync(buffer, cancellation)) > 0;)
            {
                if (bytes.Length + read > _maxBytes) return (null, TooLarge(bytes.Length + read));
                bytes.Write(buffer, 0, read);
            }
            return (bytes.ToArray(), null);
        }
    }

    (int, string) TooLarge(long bytes) =>
        (StatusCodes.Status413PayloadTooLarge, $"the image is {bytes} bytes or more; the limit is {_maxBytes} (Limits:MaxFileBytes).");

    public void Dispose() => _http.Dispose();
}
