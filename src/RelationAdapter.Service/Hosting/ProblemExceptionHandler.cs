using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using RelationAdapter.Service.Endpoints;

namespace RelationAdapter.Service.Hosting;

/// <summary>Turns oversized bodies and unexpected exceptions into problem details with a stable type.</summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellation)
    {
        var (status, type, title) = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                (StatusCodes.Status413PayloadTooLarge, Problems.Types.RequestTooLarge, "The request body is too large."),
            InvalidDataException when exception.Message.Contains("limit", StringComparison.OrdinalIgnoreCase) =>
                (StatusCodes.Status413PayloadTooLarge, Problems.Types.RequestTooLarge, "The request body is too large."),
            BadHttpRequestException bad => (bad.StatusCode, Problems.Types.Validation, "The request could not be read."),
            InvalidDataException => (StatusCodes.Status400BadRequest, Problems.Types.Validation, "The request could not be read."),
            _ => (StatusCodes.Status500InternalServerError, Problems.Types.Internal, "An unexpected error occurred."),
        };
        if (status >= 500) logger.LogError(exception, "Unhandled exception");
        http.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Type = type, Title = title, Detail = status < 500 ? exception.Message : null },
        });
    }
}
