using RelationAdapter.Core.Weights;

namespace RelationAdapter.Jobs;

public enum FailureKind
{
    /// <summary>The inputs cannot be edited (a shape or checkpoint the model refuses): retrying will not help.</summary>
    InvalidInput,

    /// <summary>Something went wrong running the edit.</summary>
    Internal,

    /// <summary>The exemplar pair's relation was gone when the edit ran (a server fault): submitting again with the pair works.</summary>
    RelationUnavailable,
}

/// <summary>A job names a relation that no cache holds any more, and it carries no exemplar pair to encode it from.</summary>
public sealed class RelationUnavailableException(string relationId)
    : Exception($"the exemplar pair's relation {relationId} expired before the edit ran; submit the edit again with the pair (prompt_image, reference_image).");

/// <summary>Why a job failed, in the job's own terms; the HTTP edge turns it into problem details.</summary>
public sealed record JobFailure(FailureKind Kind, string Message)
{
    /// <summary>Input errors say what is wrong; internal ones say no more than that (paths and device details stay in the log).</summary>
    public static JobFailure From(Exception error) => error switch
    {
        ArgumentException or CheckpointFormatException => new JobFailure(FailureKind.InvalidInput, error.Message),
        RelationUnavailableException => new JobFailure(FailureKind.RelationUnavailable, error.Message),
        _ => new JobFailure(FailureKind.Internal, $"an internal error ({error.GetType().Name}) stopped the edit; the service's log has the details."),
    };
}
