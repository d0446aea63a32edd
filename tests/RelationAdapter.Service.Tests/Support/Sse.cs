using System.Text.Json;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>
/// One Server-Sent Event as the wire carried it (<c>Id</c> -1: the event had none, as the closing <c>reconnect</c>;
/// <c>Retry</c>: its own <c>retry:</c> line, if any).
/// </summary>
public sealed record SseEvent(long Id, string Kind, JsonElement Data, long? Retry = null);

/// <summary>Reads a text/event-stream body into its events (comments and the retry hint are skipped).</summary>
public static class Sse
{
    public static List<SseEvent> Parse(string body) =>
        body.Replace("\r\n", "\n").Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(block => block.Split('\n').Where(line => !line.StartsWith(':')).Select(line => line.Split(": ", 2)).Where(p => p.Length == 2)
                .ToDictionary(p => p[0], p => p[1]))
            .Where(fields => fields.ContainsKey("data"))
            .Select(fields => new SseEvent(fields.TryGetValue("id", out var id) ? long.Parse(id) : -1, fields["event"], JsonDocument.Parse(fields["data"]).RootElement.Clone(),
                fields.TryGetValue("retry", out var retry) ? long.Parse(retry) : null))
            .ToList();
}
