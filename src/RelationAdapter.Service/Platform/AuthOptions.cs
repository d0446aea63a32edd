namespace RelationAdapter.Service.Platform;

/// <summary>An API key and the name logs, metrics and job ownership use for it (never the key itself).</summary>
public sealed record ApiKey(string Name, string Key);

/// <summary>Optional API keys ("Auth" section): when any is set, /v1 requires <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    public List<ApiKey> ApiKeys { get; set; } = [];

    public bool Enabled => ApiKeys.Count > 0;

    /// <summary>
    /// <c>Auth:ApiKeys</c> entries as <c>{ "Name": …, "Key": … }</c> or, the older form, the key alone (then
    /// named <c>key-1</c>, <c>key-2</c>, … by position). Blank keys are ignored.
    /// </summary>
    public static List<ApiKey> Read(IConfigurationSection keys) =>
        keys.GetChildren()
            .Select((entry, index) => entry.Value is { Length: > 0 } bare
                ? new ApiKey($"key-{index + 1}", bare)
                : new ApiKey(entry["Name"] is { Length: > 0 } name ? name : $"key-{index + 1}", entry["Key"] ?? ""))
            .Where(key => !string.IsNullOrWhiteSpace(key.Key))
            .ToList();
}
