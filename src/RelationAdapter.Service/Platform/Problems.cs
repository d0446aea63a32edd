using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using RelationAdapter.Jobs;

namespace RelationAdapter.Service.Platform;

/// <summary>RFC 9457 problem details with a stable <c>type</c> per kind of error.</summary>
public static class Problems
{
    public const string TypePrefix = "urn:relation-adapter:problem:";

    public static class Types
    {
        public const string Validation = TypePrefix + "validation";
        public const string InvalidImage = TypePrefix + "invalid-image";
        public const string ImageTooLarge = TypePrefix + "image-too-large";
        public const string RequestTooLarge = TypePrefix + "request-too-large";
        public const string QueueFull = TypePrefix + "queue-full";
        public const string ShuttingDown = TypePrefix + "shutting-down";
        public const string NotReady = TypePrefix + "not-ready";
        public const string EditNotFound = TypePrefix + "edit-not-found";
        public const string RelationNotFound = TypePrefix + "relation-not-found";
        public const string ResultNotAvailable = TypePrefix + "result-not-available";
        public const string AlreadyFinished = TypePrefix + "already-finished";
        public const string Unauthorized = TypePrefix + "unauthorized";
        public const string EditFailed = TypePrefix + "edit-failed";
        public const string InvalidModelInput = TypePrefix + "invalid-model-input";
        public const string Internal = TypePrefix + "internal";
        public const string NotFound = TypePrefix + "not-found";
        public const string MethodNotAllowed = TypePrefix + "method-not-allowed";
        public const string UnsupportedMediaType = TypePrefix + "unsupported-media-type";
        public const string MalformedRequest = TypePrefix + "malformed-request";
        public const string UriTooLong = TypePrefix + "uri-too-long";
        public const string IdempotencyKeyReused = TypePrefix + "idempotency-key-reused";
        public const string HeadersTooLarge = TypePrefix + "headers-too-large";
        public const string BackendUnavailable = TypePrefix + "backend-unavailable";
        public const string RelationUnavailable = TypePrefix + "relation-unavailable";
        public const string TooManyUploads = TypePrefix + "too-many-uploads";
        public const string UploadTooSlow = TypePrefix + "upload-too-slow";
        public const string InvalidLink = TypePrefix + "invalid-link";
    }

    /// <summary>Every problem type the service answers with (for the OpenAPI description).</summary>
    public static IEnumerable<string> AllTypes =>
        typeof(Types).GetFields().Select(constant => (string)constant.GetRawConstantValue()!).Order(StringComparer.Ordinal);

    /// <summary>Gives the framework's own problems (unknown route, wrong media type, …) a type of ours too.</summary>
    public static void WithStableType(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Type?.StartsWith(TypePrefix, StringComparison.Ordinal) == true) return;
        problem.Type = problem.Status switch
        {
            StatusCodes.Status400BadRequest => Types.Validation,
            StatusCodes.Status401Unauthorized => Types.Unauthorized,
            StatusCodes.Status404NotFound => Types.NotFound,
            StatusCodes.Status405MethodNotAllowed => Types.MethodNotAllowed,
            StatusCodes.Status413PayloadTooLarge => Types.RequestTooLarge,
            StatusCodes.Status415UnsupportedMediaType => Types.UnsupportedMediaType,
            StatusCodes.Status414UriTooLong => Types.UriTooLong,
            StatusCodes.Status431RequestHeaderFieldsTooLarge => Types.HeadersTooLarge,
            _ => Types.Internal,
        };
        // Routing refuses a media type the endpoint does not accept before any handler runs: the same words as a handler's refusal.
        if (problem.Status == StatusCodes.Status415UnsupportedMediaType && problem.Detail is null)
        {
            var words = NotMultipart(context.HttpContext.Request.ContentType).ProblemDetails;
            (problem.Title, problem.Detail) = (words.Title, words.Detail);
        }
    }

    public static ProblemHttpResult Problem(int status, string type, string title, string? detail = null,
        IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(detail, statusCode: status, title: title, type: type, extensions: extensions);

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "One or more fields are invalid.", type: Types.Validation);

    /// <summary>A validation problem about one field found after the form was read (the same body as <see cref="Validation"/>).</summary>
    public static ProblemHttpResult InvalidField(string field, string message) => InvalidFields(new Dictionary<string, string[]> { [field] = [message] });

    /// <summary><see cref="Validation"/>'s body where the answer must be a <see cref="ProblemHttpResult"/>.</summary>
    public static ProblemHttpResult InvalidFields(IDictionary<string, string[]> errors) =>
        Problem(StatusCodes.Status400BadRequest, Types.Validation, "One or more fields are invalid.", extensions: new Dictionary<string, object?> { ["errors"] = errors });

    public static ProblemHttpResult IdempotencyKeyReused(string key) =>
        Problem(StatusCodes.Status422UnprocessableEntity, Types.IdempotencyKeyReused, "The idempotency key was used for another request.",
            $"'{key}' was sent with a different request; use a new key for a new request.");

    /// <summary>The idempotency key as sent, or the validation problem of a key too long.</summary>
    public static ValidationProblem? InvalidIdempotencyKey(string key) => key.Length <= IdempotencyKey.MaxLength ? null
        : Validation(new Dictionary<string, string[]> { [IdempotencyKey.Header] = [$"is {key.Length} characters; the limit is {IdempotencyKey.MaxLength}."] });

    public static ProblemHttpResult EditNotFound(string id) =>
        Problem(StatusCodes.Status404NotFound, Types.EditNotFound, "No such edit.", $"No edit '{id}' exists (finished edits are kept for a limited time).");

    public static ProblemHttpResult RelationNotFound(string id) =>
        Problem(StatusCodes.Status404NotFound, Types.RelationNotFound, "No such relation.",
            $"Relation '{id}' is not cached (unknown or evicted): upload the exemplar pair again.");

    public static ProblemHttpResult Compressed(string encoding) =>
        Problem(StatusCodes.Status415UnsupportedMediaType, Types.UnsupportedMediaType, "The body must not be compressed.",
            $"Content-Encoding '{encoding}' is not accepted: send the body uncompressed.");

    public static ProblemHttpResult NotMultipart(string? contentType) =>
        Problem(StatusCodes.Status415UnsupportedMediaType, Types.UnsupportedMediaType, "The body must be multipart/form-data or application/json.",
            contentType is null ? "The request has no Content-Type." : $"The Content-Type is '{contentType}'.");

    /// <summary>503 not-ready, with the Retry-After every 503 of the API carries.</summary>
    public static ProblemHttpResult NotReady(HttpResponse response, string? detail, int retryAfterSeconds) =>
        Unavailable(response, retryAfterSeconds, Types.NotReady, "The model is not ready.", detail);

    /// <summary>503 shutting-down, with Retry-After (another replica, or this one restarted, can take the request).</summary>
    public static ProblemHttpResult ShuttingDown(HttpResponse response, int retryAfterSeconds) =>
        Unavailable(response, retryAfterSeconds, Types.ShuttingDown, "The service is shutting down.");

    public static ProblemHttpResult Unavailable(HttpResponse response, int retryAfterSeconds, string type, string title, string? detail = null)
    {
        response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problem(StatusCodes.Status503ServiceUnavailable, type, title, detail);
    }

    /// <summary>A failed job's reason as the problem details clients see in the job view.</summary>
    public static ProblemDetails ForJobFailure(JobFailure failure) => failure.Kind switch
    {
        FailureKind.InvalidInput => new ProblemDetails
        {
            Type = Types.InvalidModelInput, Status = StatusCodes.Status422UnprocessableEntity, Title = "The edit could not be run on these inputs.", Detail = failure.Message,
        },
        FailureKind.RelationUnavailable => new ProblemDetails
        {
            Type = Types.RelationUnavailable, Status = StatusCodes.Status503ServiceUnavailable, Title = "The exemplar pair's relation was not available.", Detail = failure.Message,
        },
        _ => new ProblemDetails
        {
            Type = Types.EditFailed, Status = StatusCodes.Status500InternalServerError, Title = "The edit failed.", Detail = failure.Message,
        },
    };
}
