using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Jobs;

namespace RelationAdapter.Service.Endpoints;

/// <summary>
/// A job's Server-Sent Events: a <c>retry:</c> hint first, an <c>id:</c> on every event (the job's change
/// count, so <c>Last-Event-ID</c> resumes without repeats), and a comment line as a heartbeat whenever nothing
/// happened for a while (a queued job can wait long; proxies close silent connections).
/// </summary>
public sealed class EditEventStream(EditJob job, JobQueue queue, long? lastSeen, TimeSpan heartbeat) : IResult, IEndpointMetadataProvider
{
    /// <summary>How long a disconnected client waits before it reconnects.</summary>
    public const int ReconnectMilliseconds = 2000;

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(EditView), ["text/event-stream"]));

    public async Task ExecuteAsync(HttpContext http)
    {
        var json = http.RequestServices.GetRequiredService<IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var cancellation = http.RequestAborted;
        // Subscribed before the first byte goes out: a client that acts once it sees the response start misses no change.
        var events = job.Subscribe(lastSeen);
        try
        {
            await response.WriteAsync($"retry: {ReconnectMilliseconds}\n\n", cancellation);
            Task<bool>? ready = null;
            while (true)
            {
                ready ??= events.WaitToReadAsync(cancellation).AsTask();
                if (await Task.WhenAny(ready, Task.Delay(heartbeat, cancellation)) != ready)
                {
                    await response.WriteAsync(": heartbeat\n\n", cancellation);
                    continue;
                }
                if (!await ready) break;
                ready = null;
                while (events.TryRead(out var change))
                {
                    var data = JsonSerializer.Serialize(EditView.From(job, change.State, queue), json);
                    await response.WriteAsync($"id: {change.Id}\nevent: {change.Kind}\ndata: {data}\n\n", cancellation);
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client left.
        }
        finally
        {
            job.Unsubscribe(events);
        }
    }
}
