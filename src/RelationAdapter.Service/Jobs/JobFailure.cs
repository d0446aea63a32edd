using RelationAdapter.Core.Weights;

namespace RelationAdapter.Service.Jobs;

public enum FailureKind
{
    /// <summary>The inputs cannot be edited (a shape or checkpoint the model refuses): retrying will not help.</summary>
    InvalidInput,

    /// <summary>Something went wrong running the edit.</summary>
    Internal,
}

/// <summary>Why a job failed, in the job's own terms; the HTTP edge turns it into problem details.</summary>
public sealed record JobFailure(FailureKind Kind, string Message)
{
    /// <summary>Input errors say what is wrong; internal ones say no more than that (paths and device details stay in the log).</summary>
    public static JobFailure From(Exception error) => error is ArgumentException or CheckpointFormatException
        ? new JobFailure(FailureKind.InvalidInput, error.Message)
        : new JobFailure(FailureKind.Internal, $"an internal error ({error.GetType().Name}) stopped the edit; the service's log has the details.");
}
