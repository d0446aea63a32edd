using System.Diagnostics;
using System.Text.Json;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Telemetry;

namespace RelationAdapter.Service.Jobs;

/// <summary>Runs one edit job through the pipeline: its relation (cached or encoded now), the edit, the encoded result.</summary>
public sealed class EditRunner(RelationCache relations, ServiceTelemetry telemetry, TimeProvider time)
{
    public (EditOutput Output, byte[] Image) Run(IRunningJob job, RelationEditPipeline pipeline, Activity? jobActivity)
    {
        var relation = job.Relation;
        // The pair may have been encoded (by a relation request or an earlier job) while this job waited.
        var cached = relation.Cached ?? relations.PeekAsync(relation.Id).GetAwaiter().GetResult()?.Tokens;
        if (cached is null)
        {
            using (ServiceTelemetry.ActivitySource.StartActivity("relation.encode")?.SetTag("relation.id", relation.Id))
                cached = pipeline.EncodePaddedRelationTokens(relation.PaddedPromptImage!, relation.PaddedReferenceImage!);
            relations.Store(relation.Id, cached, time.GetUtcNow());
        }
        using var tokens = cached.ToTensor();

        var source = job.Source;
        job.SetSize(source.Width, source.Height);
        var request = new EditRequest { Source = source, RelationTokens = tokens, Settings = job.Spec.Settings };
        using var tracker = new StageTracker(job, telemetry, jobActivity);
        var result = pipeline.Run(request, tracker, job.Cancellation);
        using var image = result.Image;
        var format = job.Spec.OutputFormat;
        return (new EditOutput(ImageCodec.ContentType(format), result.Width, result.Height, result.StageTimings, result.Warnings, result.Steps),
            ImageCodec.Encode(image, format));
    }

    /// <summary>Forwards pipeline progress to the job, with one span per stage and the step-duration metric.</summary>
    sealed class StageTracker(IRunningJob job, ServiceTelemetry telemetry, Activity? parent) : IProgress<EditProgress>, IDisposable
    {
        Activity? _stage;
        EditStage? _current;
        TimeSpan _lastStepAt;

        public void Report(EditProgress value)
        {
            if (value.Stage != _current)
            {
                _stage?.Dispose();
                _current = value.Stage;
                _stage = ServiceTelemetry.ActivitySource.StartActivity("edit." + JsonNamingPolicy.SnakeCaseLower.ConvertName(value.Stage.ToString()),
                    ActivityKind.Internal, parent?.Context ?? default);
            }
            else if (value.Stage == EditStage.Denoise)
            {
                telemetry.StepDuration.Record((value.Elapsed - _lastStepAt).TotalSeconds);
            }
            _lastStepAt = value.Elapsed;
            job.ReportProgress(value);
        }

        public void Dispose() => _stage?.Dispose();
    }
}
