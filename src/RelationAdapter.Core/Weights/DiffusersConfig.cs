using System.Text.Json;

namespace RelationAdapter.Core.Weights;

/// <summary>Reads diffusers / transformers <c>config.json</c> files into typed records (snake_case keys).</summary>
public static class DiffusersConfig
{
    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config not found.", path);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options)
                   ?? throw new CheckpointFormatException(path, "config is null.");
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(path, $"config is not valid ({e.Message}).");
        }
    }

    public static T Parse<T>(string json) => JsonSerializer.Deserialize<T>(json, Options)!;
}
