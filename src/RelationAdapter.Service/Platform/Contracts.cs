using System.ComponentModel;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Service.Platform;

/// <summary>The multipart body of <c>POST /v1/edits</c> (documentation of the form fields).</summary>
public sealed class EditForm
{
    /// <summary>The exemplar "before" image. Send it with reference_image, or send relation_id instead.</summary>
    public IFormFile? prompt_image { get; set; }
    /// <summary>The exemplar "after" image.</summary>
    public IFormFile? reference_image { get; set; }
    /// <summary>A cached exemplar pair from POST /v1/relations, instead of the two images.</summary>
    public string? relation_id { get; set; }
    /// <summary>
    /// The image to edit; repeat the part for a batch of up to Limits:MaxSourcesPerEdit sources, each edited
    /// with the same exemplar pair and its own seed (seed + its index), each result at /v1/edits/{id}/results/{index}.
    /// </summary>
    public required IFormFileCollection source_image { get; set; }
    /// <summary>The instruction.</summary>
    public required string prompt { get; set; }
    /// <summary>Denoising steps, at most Limits:MaxSteps.</summary>
    public int? steps { get; set; }
    /// <summary>Guidance scale.</summary>
    public double? guidance { get; set; }
    /// <summary>Adapter scale alpha: how strongly the exemplar pair's relation steers the edit.</summary>
    public double? adapter_scale { get; set; }
    /// <summary>Random seed; its maximum, 2^53 - 1, is exact in every JSON client. Random in the range when absent, and always returned.</summary>
    public long? seed { get; set; }
    /// <summary>Longest side of the edited image, a multiple of 16, at most Limits:MaxSideCap; default Limits:DefaultMaxSide.</summary>
    public int? max_side { get; set; }
    /// <summary>An absolute http(s) URL the job's events are POSTed to, signed as Standard Webhooks says (needs Webhooks:Secret on the server).</summary>
    public string? webhook { get; set; }
    /// <summary>Which events reach the webhook: started, completed (default: completed). Repeat the field or separate names with commas.</summary>
    public string[]? webhook_events_filter { get; set; }
    /// <summary>Outputs per source, each with its own seed: source i's k-th output has seed + i·n + k and is result i·n + k.</summary>
    public int? n { get; set; }
    /// <summary>
    /// A JSON object of at most 16 string pairs (keys up to 64 characters, values up to 512), stored with the job and echoed in
    /// its view, the listing and webhooks. In a form, the object's JSON text.
    /// </summary>
    public string? metadata { get; set; }
    /// <summary>
    /// What a <c>Prefer: wait</c> answer that finished in time carries: <c>image</c> (default) the image for one output, the job
    /// for several; <c>b64_json</c> the job with every image inline as base64 (<c>data</c>), as OpenAI's images API answers.
    /// </summary>
    public ResponseFormat? response_format { get; set; }
    /// <summary>The result's format.</summary>
    [DefaultValue(OutputFormat.Png)]
    public OutputFormat? output_format { get; set; }
    /// <summary>Step cache (First-Block Cache), 0 = off: a step whose first block changed by less
    /// than this (relative L1) since the last fully computed step reuses the other blocks' cached work. Faster,
    /// less exact: 0.05 to 0.25 are typical; timings report the computed and reused steps.</summary>
    public double? cache_threshold { get; set; }
}

/// <summary>The multipart body of <c>POST /v1/relations</c>.</summary>
public sealed class RelationForm
{
    /// <summary>The exemplar "before" image.</summary>
    public required IFormFile prompt_image { get; set; }
    /// <summary>The exemplar "after" image.</summary>
    public required IFormFile reference_image { get; set; }
}

/// <summary>How a finished <c>Prefer: wait</c> answers (the form field <c>response_format</c>).</summary>
public enum ResponseFormat { Image, B64Json }

/// <summary>One image inline: result <c>index</c>, its seed and size, its encoded bytes as base64.</summary>
public sealed record EncodedImageView(int Index, long Seed, int Width, int Height, string B64Json);

/// <summary>A finished job with its images inline (<c>response_format=b64_json</c>): <c>data</c> as OpenAI's images API has it, and the job.</summary>
public sealed record EditImagesView(IReadOnlyList<EncodedImageView> Data, EditView Edit);

public sealed record ProgressView(int Step, int Total);

/// <summary>Denoising steps run through every block, and steps that reused the step cache.</summary>
public sealed record DenoiseStepsView(int Computed, int Reused);

public sealed record EditLinks(string Self, string Result, string Events);

/// <summary>One edited image of a succeeded job: source <c>index</c>'s result, its size and seed, and where to download it.</summary>
public sealed record EditResultView(int Index, int Width, int Height, long Seed, string Url);

/// <summary>The job's webhook and, in GET /v1/edits/{id}, every delivery attempt so far (oldest first).</summary>
public sealed record WebhookView(string Url, IReadOnlyList<string> EventsFilter, IReadOnlyList<WebhookAttempt>? Attempts);

/// <summary>
/// An edit job as clients see it; <c>expires_at</c> is when a finished job and its result are dropped at the latest;
/// <c>worker</c> names the replica that runs or ran it (null while queued).
/// </summary>
public sealed record EditView(
    string Id,
    JobStatus Status,
    int? QueuePosition,
    EditStage? Stage,
    ProgressView Progress,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? ExpiresAt,
    long Seed,
    int Steps,
    double Guidance,
    double AdapterScale,
    int MaxSide,
    OutputFormat OutputFormat,
    string RelationId,
    int? Width,
    int? Height,
    int SourceCount,
    int N,
    IReadOnlyDictionary<string, string>? Metadata,
    IReadOnlyList<EditResultView>? Results,
    IReadOnlyDictionary<string, double>? TimingsMs,
    DenoiseStepsView? DenoiseSteps,
    double CacheThreshold,
    IReadOnlyList<string> Warnings,
    ProblemDetails? Error,
    string? Worker,
    WebhookView? Webhook,
    EditLinks Links)
{
    /// <summary>The job as clients see it; its results link to their images absolutely and signed (<see cref="ResultLinks"/>).</summary>
    public static EditView From(JobRecord record, ResultLinks links, IReadOnlyList<WebhookAttempt>? webhookAttempts = null)
    {
        var (job, state) = (record.Spec, record.State);
        var p = job.Settings;
        var self = $"/v1/edits/{job.Id}";
        return new EditView(job.Id, state.Status, state.Status == JobStatus.Queued ? record.QueuePosition : null,
            state.Stage,
            new ProgressView(state.Step, job.TotalSteps), job.CreatedAt, state.StartedAt, state.FinishedAt, state.FinishedAt + job.ResultRetention,
            p.Seed, p.Steps, p.Guidance, p.AdapterScale, p.MaxSide, job.OutputFormat, job.RelationId, state.Width, state.Height, job.SourceCount, job.OutputsPerSource, job.Metadata,
            state.Output?.Images.Select((image, index) => new EditResultView(index, image.Width, image.Height, image.Seed,
                links.Url(job, index, state.FinishedAt + job.ResultRetention))).ToList(),
            state.Output?.Timings.ToDictionary(t => SnakeCase(t.Key), t => Math.Round(t.Value.TotalMilliseconds, 1)),
            state.Output?.DenoiseSteps is { } counted ? new DenoiseStepsView(counted.Computed, counted.Reused) : null, p.CacheThreshold,
            state.Output?.Warnings ?? [], state.Error is { } failure ? Problems.ForJobFailure(failure) : null, state.Worker,
            job.Webhook is { } url ? new WebhookView(url, job.WebhookEvents ?? [], webhookAttempts) : null,
            new EditLinks(self, self + "/result", self + "/events"));
    }

    static string SnakeCase<T>(T value) where T : Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());
}

/// <summary>A page of edits, newest first; <c>next_cursor</c> (opaque) fetches the next page, null on the last.</summary>
public sealed record EditPage(IReadOnlyList<EditView> Items, string? NextCursor)
{
    public const int DefaultLimit = 20, MaxLimit = 100;
}

/// <summary>A cached exemplar pair.</summary>
public sealed record RelationView(string Id, long TokenCount, long TokenDim, long Bytes, DateTimeOffset CreatedAt)
{
    public static RelationView From(CachedRelation relation) =>
        new(relation.Id, relation.Tokens.Shape[^2], relation.Tokens.Shape[^1], relation.Tokens.Bytes, relation.CreatedAt);
}

public sealed record HealthView(string Status);

public sealed record ReadinessView(string Status, string? Model, bool Placeholder, string? Warning, string? Error, int QueueDepth);
