using System.ComponentModel.DataAnnotations;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// The port for what only operators and their tools should reach ("Management" section): <c>/metrics</c>, which
/// names API keys, and the probes.
/// </summary>
public sealed class ManagementOptions
{
    public const string Section = "Management";

    /// <summary>
    /// Unset (default): one port, <c>/metrics</c> on it beside the API (a single process). Set: the server also
    /// listens on this port, on the main address's interface; <c>/metrics</c> answers only there (404 on the main
    /// port) and <c>/healthz</c>, <c>/readyz</c> answer on both.
    /// </summary>
    [Range(1, 65535)]
    public int? Port { get; set; }
}
