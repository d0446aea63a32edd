namespace RelationAdapter.Service.Options;

/// <summary>Optional API keys ("Auth" section): when any is set, /v1 requires <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    public List<string> ApiKeys { get; set; } = [];

    public bool Enabled => ApiKeys.Any(k => !string.IsNullOrWhiteSpace(k));
}
