using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace RelationAdapter.Client;

// GET /v1/edits/{id}/events by hand: the generator leaves out operations that answer text/event-stream, since
// generated code would wait for the whole stream and read it as one JSON body.
public partial interface IRelationAdapterClient
{
    /// <inheritdoc cref="RelationAdapterClient.GetEditEventsAsync"/>
    IAsyncEnumerable<SseItem<EditView>> GetEditEventsAsync(string id, CancellationToken cancellationToken = default);
}

public partial class RelationAdapterClient
{
    /// <summary>
    /// Follows an edit as it runs (Server-Sent Events of <c>GET /v1/edits/{id}/events</c>): each item's
    /// <see cref="SseItem{T}.EventType"/> says what happened ("status" first, then "started", "progress" and a final
    /// "succeeded", "failed" or "canceled") and its <see cref="SseItem{T}.Data"/> is the job at that moment.
    /// The sequence ends when the service closes the stream after the final event.
    /// </summary>
    /// <param name="id">The edit's id.</param>
    /// <param name="cancellationToken">Stops following the edit (the edit itself goes on).</param>
    /// <exception cref="ApiException{ApiProblem}">The service answered a problem instead of the stream (404: no such edit).</exception>
    /// <exception cref="ApiException">The service answered something else that is not a stream of events.</exception>
    public virtual async IAsyncEnumerable<SseItem<EditView>> GetEditEventsAsync(string id,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("v1/edits/" + Uri.EscapeDataString(id) + "/events", UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await _httpClient.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
            throw await UnexpectedResponseAsync(response, cancellationToken).ConfigureAwait(false);

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using var _ = stream.ConfigureAwait(false);
        var options = JsonSerializerSettings;
        var events = SseParser.Create(stream, (_, data) => JsonSerializer.Deserialize<EditView>(data, options)!);
        await foreach (var item in events.EnumerateAsync(cancellationToken).ConfigureAwait(false))
            yield return item;
    }

    async Task<ApiException> UnexpectedResponseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var headers = new Dictionary<string, IEnumerable<string>>();
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers)) headers[name] = values;
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
        {
            try
            {
                if (JsonSerializer.Deserialize<ApiProblem>(text, JsonSerializerSettings) is { } problem)
                    return new ApiException<ApiProblem>(problem.Title ?? response.ReasonPhrase ?? "Problem", status, text, headers, problem, null);
            }
            catch (JsonException exception)
            {
                return new ApiException("Could not deserialize the problem.", status, text, headers, exception);
            }
        }
        return new ApiException("The response was not a stream of events (" + status + ").", status, text, headers, null);
    }
}
