using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Webhooks;

/// <summary>Standard Webhooks' symmetric signature: <c>v1,</c> and the base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>.</summary>
public sealed class WebhookSignature
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    readonly byte[] _key;

    WebhookSignature(byte[] key) => _key = key;

    /// <summary>The signer of a <c>whsec_</c> secret; throws <see cref="FormatException"/> for any other form.</summary>
    public static WebhookSignature FromSecret(string secret) =>
        WebhooksOptions.TryDecodeSecret(secret, out var key, out var error)
            ? new WebhookSignature(key)
            : throw new FormatException($"The webhook secret {error}");

    /// <summary>The <c>webhook-timestamp</c> value: whole seconds since the Unix epoch.</summary>
    public static string Timestamp(DateTimeOffset at) => at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);

    public string Sign(string messageId, DateTimeOffset at, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _key);
        hmac.AppendData(Encoding.UTF8.GetBytes($"{messageId}.{Timestamp(at)}."));
        hmac.AppendData(body);
        return "v1," + Convert.ToBase64String(hmac.GetHashAndReset());
    }
}
