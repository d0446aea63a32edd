using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>Turns oversized and malformed bodies and unexpected exceptions into problem details with a stable type.</summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, IOptions<QueueOptions> queue, ILogger<ProblemExceptionHandler> logger)
    : IExceptionHandler
{
    /// <summary>The form readers' size limits; their other limits (lines, headers, field counts) are about shape, not size.</summary>
    static bool IsSizeLimit(Exception exception) =>
        exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } ||
        exception.Message.Contains("body length limit", StringComparison.OrdinalIgnoreCase) ||
        exception.Message.Contains("value length limit", StringComparison.OrdinalIgnoreCase);

    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellation)
    {
        if (exception is OperationCanceledException && http.RequestAborted.IsCancellationRequested) return true; // the client left: nobody to answer
        var (status, type, title) = exception switch
        {
            BadHttpRequestException or InvalidDataException when IsSizeLimit(exception) =>
                (StatusCodes.Status413PayloadTooLarge, Problems.Types.RequestTooLarge, "The request body is too large."),
            // Malformed multipart (bad boundary, lines, headers, too many fields) or a body cut short.
            BadHttpRequestException or InvalidDataException or IOException =>
                (StatusCodes.Status400BadRequest, Problems.Types.MalformedRequest, "The request body could not be read."),
            BackendUnavailableException => (StatusCodes.Status503ServiceUnavailable, Problems.Types.BackendUnavailable, "The job backend cannot be reached."),
            _ => (StatusCodes.Status500InternalServerError, Problems.Types.Internal, "An unexpected error occurred."),
        };
        if (status == StatusCodes.Status503ServiceUnavailable)
            http.Response.Headers.RetryAfter = queue.Value.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // An outage is logged once by the connection that lost the backend, not once per request refused during it.
        if (status >= 500 && exception is not BackendUnavailableException) logger.LogError(exception, "Unhandled exception");
        http.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Type = type, Title = title, Detail = status is < 500 or 503 ? exception.Message : null },
        });
    }
}
