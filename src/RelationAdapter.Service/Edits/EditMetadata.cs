using System.Text.Json;

namespace RelationAdapter.Service.Edits;

/// <summary>A job's <c>metadata</c>: the caller's own string pairs, stored with the job and echoed back, never interpreted.</summary>
public static class EditMetadata
{
    public const int MaxPairs = 16, MaxKeyLength = 64, MaxValueLength = 512;

    /// <summary>The pairs of a JSON object's text (null when absent); what is wrong goes to <paramref name="errors"/>.</summary>
    public static IReadOnlyDictionary<string, string>? Read(string text, Dictionary<string, string[]> errors)
    {
        if (text.Length == 0) return null;
        const string field = EditFormParser.Metadata;
        Dictionary<string, string>? pairs;
        try
        {
            pairs = JsonSerializer.Deserialize<Dictionary<string, string>>(text);
        }
        catch (JsonException)
        {
            EditFormParser.Add(errors, field, "must be a JSON object whose values are strings.");
            return null;
        }
        if (pairs is null || pairs.Values.Any(value => value is null)) EditFormParser.Add(errors, field, "must be a JSON object whose values are strings.");
        else if (pairs.Count > MaxPairs) EditFormParser.Add(errors, field, $"has {pairs.Count} pairs; at most {MaxPairs}.");
        else if (pairs.Keys.FirstOrDefault(key => key.Length is 0 or > MaxKeyLength) is { } key)
            EditFormParser.Add(errors, field, $"key '{key[..Math.Min(key.Length, MaxKeyLength)]}' must be 1 to {MaxKeyLength} characters.");
        else if (pairs.FirstOrDefault(pair => pair.Value.Length > MaxValueLength) is { Key: { } longKey })
            EditFormParser.Add(errors, field, $"the value of '{longKey}' is longer than {MaxValueLength} characters.");
        return pairs;
    }
}
