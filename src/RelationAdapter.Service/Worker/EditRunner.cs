using System.Diagnostics;
using System.Text.Json;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using SixLabors.ImageSharp;
using Tensor = TorchSharp.torch.Tensor;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Worker;

/// <summary>Runs one edit job through the pipeline: its relation (cached or encoded now) and prompt once, each batch of its sources, the encoded results.</summary>
public sealed class EditRunner(RelationCache relations, ServiceTelemetry telemetry, TimeProvider time)
{
    /// <summary>Encodes an exemplar pair and stores its relation; <paramref name="shareRequired"/>: fail unless the shared store took it too.</summary>
    public CachedRelation EncodeRelation(RelationEditPipeline pipeline, RelationInput pair, bool shareRequired)
    {
        using var tokens = Encode(pipeline, pair);
        return relations.Store(pair.Id, RelationTokens.From(tokens), time.GetUtcNow(), shareRequired);
    }

    static Tensor Encode(RelationEditPipeline pipeline, RelationInput pair)
    {
        using var activity = ServiceTelemetry.ActivitySource.StartActivity("relation.encode")?.SetTag("relation.id", pair.Id);
        if (pair is { PaddedPromptImage: { } before, PaddedReferenceImage: { } after }) return pipeline.EncodePaddedRelation(before, after);
        if (pair.LoadPadded?.Invoke() is not var (loadedBefore, loadedAfter)) throw new RelationUnavailableException(pair.Id);
        using (loadedBefore)
        using (loadedAfter)
            return pipeline.EncodePaddedRelation(loadedBefore, loadedAfter);
    }

    /// <summary>
    /// The job's relation tokens: cached ones (the pair may have been encoded by a relation request or an earlier job
    /// while this job waited), or encoded now from the job's pair, in which case the tokens stay where they were made
    /// for this job and the cache gets a copy.
    /// </summary>
    Tensor RelationTokensOf(RelationInput relation, RelationEditPipeline pipeline)
    {
        if ((relation.Cached ?? relations.PeekAsync(relation.Id).GetAwaiter().GetResult()?.Tokens) is { } cached) return cached.ToTensor();
        var tokens = Encode(pipeline, relation);
        relations.Store(relation.Id, RelationTokens.From(tokens), time.GetUtcNow(), shareRequired: false);
        return tokens;
    }

    public (EditOutput Output, IReadOnlyList<byte[]> Images) Run(IRunningJob job, RelationEditPipeline pipeline, Activity? jobActivity)
    {
        using var tokens = RelationTokensOf(job.Relation, pipeline);

        var spec = job.Spec;
        var sources = job.Sources;
        job.SetSize(sources[0].Width, sources[0].Height);
        // Every output of every source (n per source) of one working size runs in one DiT batch; each keeps its own seed and place.
        var batches = Enumerable.Range(0, spec.ResultCount).Select(index => (source: sources[spec.SourceOf(index)], index))
            .GroupBy(item => ImagePreprocessing.SourceSize(item.source.Width, item.source.Height, spec.Settings.MaxSide))
            .Select(batch => batch.ToList()).ToList();
        var images = new EditedImage[spec.ResultCount];
        var encoded = new byte[spec.ResultCount][];
        var timings = new Dictionary<EditStage, TimeSpan>();
        var warnings = new List<string>();
        var (computed, reused) = (0, 0);
        using var tracker = new StageTracker(job, telemetry, jobActivity);
        foreach (var batch in batches)
        {
            var request = new EditRequest
            {
                Source = batch[0].source, MoreSources = batch.Skip(1).Select(item => item.source).ToList(),
                SourceSeeds = batch.Select(item => spec.SeedOf(item.index)).ToList(),
                // Batches after the first find the prompt in the pipeline's prompt cache.
                RelationTokens = tokens, Settings = spec.Settings,
            };
            tracker.Batch = batch.Count;
            var results = pipeline.RunBatch(request, tracker, job.Cancellation);
            try
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    images[batch[i].index] = new EditedImage(results[i].Width, results[i].Height, results[i].Seed);
                    encoded[batch[i].index] = ImageCodec.Encode(results[i].Image, spec.OutputFormat);
                }
            }
            finally
            {
                foreach (var result in results) result.Image.Dispose();
            }
            foreach (var (stage, took) in results[0].StageTimings) timings[stage] = timings.GetValueOrDefault(stage) + took;
            warnings.AddRange(results[0].Warnings.Except(warnings));
            (computed, reused) = (computed + results[0].Steps.Computed, reused + results[0].Steps.Reused);
            tracker.Done += batch.Count * spec.Settings.Steps;
        }
        return (new EditOutput(ImageCodec.ContentType(spec.OutputFormat), images, timings, warnings, new DenoiseSteps(computed, reused)), encoded);
    }

    /// <summary>
    /// Forwards pipeline progress to the job, with one span per stage and the step-duration metric. The job counts
    /// steps over all its sources: a step of the current batch is <see cref="Batch"/> steps, after the <see cref="Done"/> ones.
    /// </summary>
    sealed class StageTracker(IRunningJob job, ServiceTelemetry telemetry, Activity? parent) : IProgress<EditProgress>, IDisposable
    {
        public int Batch { get; set; } = 1;
        public int Done { get; set; }

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
            job.ReportProgress(value with { Step = Done + value.Step * Batch, TotalSteps = job.Spec.TotalSteps });
        }

        public void Dispose() => _stage?.Dispose();
    }
}
