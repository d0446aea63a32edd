using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;

namespace RelationAdapter.Jobs.Options;

/// <summary>Signed webhooks ("Webhooks" section), delivered as the Standard Webhooks specification says.</summary>
public sealed class WebhooksOptions : IValidatableObject
{
    public const string Section = "Webhooks";

    /// <summary>The prefix Standard Webhooks gives symmetric secrets, so they are recognisable where they leak.</summary>
    public const string SecretPrefix = "whsec_";

    /// <summary>The specification's bounds on a secret's key: below 24 bytes an HMAC key is too guessable.</summary>
    public const int MinSecretBytes = 24, MaxSecretBytes = 64;

    /// <summary>
    /// The signing secret, <c>whsec_&lt;base64 of 24 to 64 random bytes&gt;</c>. Unset turns webhooks off: a request
    /// that names a webhook is then refused rather than accepted and never called back.
    /// </summary>
    public string? Secret { get; set; }

    /// <summary>
    /// Lets webhooks reach loopback, link-local and private addresses. Off, a request cannot make the service call
    /// into the network it runs in (SSRF); on only where the receivers live there, or in tests.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>How long one attempt may take, connecting included, before it counts as failed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The wait before the first retry; each further retry waits up to twice as long.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "06:00:00")]
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long after an event its delivery is still retried; no attempt is scheduled past it.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "7.00:00:00")]
    public TimeSpan RetryWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Attempts per delivery at most, the first included.</summary>
    [Range(1, 100)]
    public int MaxAttempts { get; set; } = 8;

    /// <summary>Deliveries in flight at the same time, so slow receivers cannot tie up the service's sockets.</summary>
    [Range(1, 64)]
    public int ConcurrentDeliveries { get; set; } = 4;

    /// <summary>Whether a request may ask for a webhook at all.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Secret);

    /// <summary>The key a <c>whsec_</c> secret stands for; false with the reason when the secret is not of that form.</summary>
    public static bool TryDecodeSecret(string? secret, [NotNullWhen(true)] out byte[]? key, [NotNullWhen(false)] out string? error)
    {
        key = null;
        if (secret is null || !secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            error = $"must start with '{SecretPrefix}' followed by the base64 of {MinSecretBytes} to {MaxSecretBytes} random bytes.";
            return false;
        }
        var encoded = secret[SecretPrefix.Length..];
        var buffer = new byte[encoded.Length];
        if (!Convert.TryFromBase64String(encoded, buffer, out var length))
        {
            error = $"is not valid base64 after '{SecretPrefix}'.";
            return false;
        }
        if (length is < MinSecretBytes or > MaxSecretBytes)
        {
            error = $"decodes to {length} bytes; it must be {MinSecretBytes} to {MaxSecretBytes}.";
            return false;
        }
        key = buffer[..length];
        error = null;
        return true;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext context)
    {
        if (Enabled && !TryDecodeSecret(Secret, out _, out var error))
            yield return new($"Webhooks:Secret {error}", [nameof(Secret)]);
        if (InitialBackoff > MaxBackoff)
            yield return new($"InitialBackoff ({InitialBackoff}) exceeds MaxBackoff ({MaxBackoff}).", [nameof(InitialBackoff)]);
    }
}
