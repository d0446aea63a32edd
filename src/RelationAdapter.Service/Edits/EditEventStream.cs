using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Edits;

/// <summary>
/// A job's Server-Sent Events: a <c>retry:</c> hint first, an <c>id:</c> on every event (the job's change
/// count, so <c>Last-Event-ID</c> resumes without repeats), and a comment line as a heartbeat whenever nothing
/// happened for a while (a queued job can wait long; proxies close silent connections).
/// </summary>
public sealed class EditEventStream(EditSpec job, IAsyncEnumerable<JobEvent> changes, TimeSpan heartbeat) : IResult, IEndpointMetadataProvider
{
    /// <summary>The last event of a stream whose job backend went away: reconnect after its <c>retry</c>.</summary>
    public const string ReconnectEvent = "reconnect";

    /// <summary>How long a disconnected client waits before it reconnects.</summary>
    public const int ReconnectMilliseconds = 2000;

    /// <summary>The events of a job's changes, in the order a job can go through them.</summary>
    public static readonly string[] ChangeEvents = ["status", "queue_position", "started", "progress", "succeeded", "failed", "canceled"];

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder)
    {
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(EditView), ["text/event-stream"]));
        builder.Metadata.Add(new ServerSentEvents(typeof(EditView), ChangeEvents, ReconnectEvent, ReconnectMilliseconds));
    }

    public async Task ExecuteAsync(HttpContext http)
    {
        var json = http.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var links = http.RequestServices.GetRequiredService<ResultLinks>();
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var cancellation = http.RequestAborted;
        // Ends the watch however the stream ends: an enumerator may only be disposed once its pending MoveNext is over.
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        // The watch starts before the first byte goes out: a client that acts once it sees the response start misses no change.
        var events = changes.GetAsyncEnumerator(watching.Token);
        var next = events.MoveNextAsync().AsTask();
        try
        {
            await response.WriteAsync($"retry: {ReconnectMilliseconds}\n\n", cancellation);
            while (true)
            {
                if (await Task.WhenAny(next, Task.Delay(heartbeat, cancellation)) != next)
                {
                    await response.WriteAsync(": heartbeat\n\n", cancellation);
                    continue;
                }
                if (!await next) break;
                var change = events.Current;
                next = events.MoveNextAsync().AsTask();
                var data = JsonSerializer.Serialize(EditView.From(new JobRecord(job, change.State, change.QueuePosition), links), json);
                await response.WriteAsync($"id: {change.Id}\nevent: {change.Kind}\ndata: {data}\n\n", cancellation);
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client left.
        }
        catch (BackendUnavailableException)
        {
            // The job backend went away: the stream ends with a word to reconnect (Last-Event-ID resumes it) once it is back,
            // rather than being cut without an end.
            var retry = http.RequestServices.GetRequiredService<IOptions<QueueOptions>>().Value.RetryAfterSeconds * 1000;
            var data = JsonSerializer.Serialize(new { type = Problems.Types.BackendUnavailable, retry_ms = retry }, json);
            await response.WriteAsync($"retry: {retry}\nevent: {ReconnectEvent}\ndata: {data}\n\n", CancellationToken.None);
        }
        finally
        {
            await watching.CancelAsync();
            await Task.WhenAny(next); // done, canceled or failed: all the same now
            await events.DisposeAsync();
        }
    }
}
