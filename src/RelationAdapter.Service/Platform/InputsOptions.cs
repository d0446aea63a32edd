using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Service.Platform;

/// <summary>Images a JSON request names by URL ("Inputs" section): fetched by the service, guarded like webhooks.</summary>
public sealed class InputsOptions
{
    public const string Section = "Inputs";

    /// <summary>
    /// Let image URLs reach loopback, private and link-local addresses. Off by default: otherwise a request could make
    /// the service fetch from the network it runs in (cloud metadata, other replicas). For tests and closed networks.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>One image URL's fetch (connect, redirects, body) at most.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Redirects followed per image URL, each target checked as the URL was.</summary>
    [Range(0, 10)]
    public int MaxRedirects { get; set; } = 3;
}
