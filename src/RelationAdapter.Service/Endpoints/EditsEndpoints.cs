using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Imaging;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Endpoints;

/// <summary>/v1/edits: submit, inspect, stream, download and cancel edit jobs.</summary>
public static class EditsEndpoints
{
    public static RouteGroupBuilder MapEdits(this RouteGroupBuilder v1)
    {
        var edits = v1.MapGroup("/edits").WithTags("Edits");

        edits.MapPost("/", Submit)
            .WithName("CreateEdit")
            .WithSummary("Submit an edit: apply the exemplar pair's change to the source image.")
            .WithDescription("Answers 202 with the job. With `Prefer: wait=N` it waits up to N seconds (capped) and answers 200 with the image when the edit finished in time.")
            .Accepts<EditForm>("multipart/form-data")
            .Produces<EditView>(StatusCodes.Status202Accepted)
            .Produces(StatusCodes.Status200OK, typeof(Stream), "image/png", "image/jpeg", "image/webp")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .DisableAntiforgery();

        edits.MapGet("/{id}", Get).WithName("GetEdit").WithSummary("The job's status, queue position, progress, timings and result metadata.")
            .Produces<EditView>().ProducesProblem(StatusCodes.Status404NotFound);

        edits.MapGet("/{id}/result", Result).WithName("GetEditResult").WithSummary("The edited image.")
            .Produces(StatusCodes.Status200OK, typeof(Stream), "image/png", "image/jpeg", "image/webp")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        edits.MapGet("/{id}/events", Events).WithName("GetEditEvents")
            .WithSummary("Server-Sent Events of the job: 'status' first, then 'started', 'progress' and a final 'succeeded', 'failed' or 'canceled'.")
            .Produces<EditView>(StatusCodes.Status200OK, "text/event-stream").ProducesProblem(StatusCodes.Status404NotFound);

        edits.MapDelete("/{id}", Cancel).WithName("CancelEdit")
            .WithSummary("Cancel: a queued job is removed at once; a running job stops at its next step.")
            .Produces<EditView>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return v1;
    }

    static async Task<IResult> Submit(HttpContext http, ModelHost host, JobStore store, JobQueue queue, RelationCache relations,
        IOptions<LimitsOptions> limitsOptions, IOptions<QueueOptions> queueOptions, TimeProvider time, CancellationToken cancellation)
    {
        if (host is not { State: ModelState.Ready, Models: { } models }) return Problems.NotReady(host.LoadError);
        var limits = limitsOptions.Value;
        var form = await http.Request.ReadFormAsync(cancellation);

        var errors = new Dictionary<string, string[]>();
        var parameters = EditFormParser.Parse(form, limits, errors);
        var source = form.Files.GetFile("source_image");
        var promptImage = form.Files.GetFile("prompt_image");
        var referenceImage = form.Files.GetFile("reference_image");
        var relationId = form["relation_id"].ToString();
        if (source is null) EditFormParser.Add(errors, "source_image", "is required.");
        if (relationId.Length > 0 && (promptImage is not null || referenceImage is not null))
            EditFormParser.Add(errors, "relation_id", "send either relation_id or the exemplar pair (prompt_image and reference_image), not both.");
        else if (relationId.Length == 0)
        {
            if (promptImage is null) EditFormParser.Add(errors, "prompt_image", "is required unless relation_id is given.");
            if (referenceImage is null) EditFormParser.Add(errors, "reference_image", "is required unless relation_id is given.");
        }
        if (errors.Count > 0) return Problems.Validation(errors);

        var (uploads, refused) = await Uploads.ReadAsync(new[] { source!, promptImage, referenceImage }.OfType<IFormFile>(), limits, cancellation);
        using var _ = uploads;
        if (refused is not null) return refused;
        var sourceUpload = uploads[0];
        if (uploads.Decode(sourceUpload) is { } undecodable) return undecodable;
        try
        {
            ImagePreprocessing.SourceSize(sourceUpload.Image!.Width, sourceUpload.Image.Height, parameters!.MaxSide);
        }
        catch (ArgumentException e)
        {
            return Problems.Validation(new Dictionary<string, string[]> { ["source_image"] = [e.Message] });
        }

        var id = relationId.Length > 0 ? relationId : RelationCache.IdFor(uploads[1].Bytes, uploads[2].Bytes, models.AdapterIdentity);
        var cached = relations.Lookup(id);
        if (cached is null && relationId.Length > 0) return Problems.RelationNotFound(relationId);
        if (cached is null && uploads.Decode(uploads[1], uploads[2]) is { } undecodablePair) return undecodablePair;
        var relation = cached is not null
            ? new RelationInput(id, cached.Tokens, null, null)
            : new RelationInput(id, null, uploads[1].Image, uploads[2].Image);

        var job = new EditJob(NewId(), store.NextSequence(), parameters!, sourceUpload.Image, relation, time.GetUtcNow());
        store.Add(job);
        var enqueued = queue.TryEnqueue(job);
        if (enqueued != EnqueueResult.Accepted)
        {
            store.Remove(job);
            http.Response.Headers.RetryAfter = queueOptions.Value.RetryAfterSeconds.ToString();
            return enqueued == EnqueueResult.Full
                ? Problems.Problem(StatusCodes.Status503ServiceUnavailable, Problems.Types.QueueFull, "The queue is full.",
                    $"{queue.Waiting} edits are waiting; retry later.")
                : Problems.Problem(StatusCodes.Status503ServiceUnavailable, Problems.Types.ShuttingDown, "The service is shutting down.");
        }
        uploads.HandOver(job.Source, relation.PromptImage, relation.ReferenceImage);

        var wait = PreferredWait(http.Request, queueOptions.Value.MaxWaitSeconds);
        if (wait > TimeSpan.Zero)
        {
            await Task.WhenAny(job.Completion, Task.Delay(wait, cancellation));
            http.Response.Headers["Preference-Applied"] = $"wait={(int)wait.TotalSeconds}";
            if (job is { Status: JobStatus.Succeeded, Output: { } output })
            {
                AddResultHeaders(http.Response, job);
                return TypedResults.File(output.Bytes, output.ContentType);
            }
        }
        return TypedResults.Accepted($"/v1/edits/{job.Id}", EditView.From(job, store));
    }

    static IResult Get(string id, JobStore store) =>
        store.Find(id) is { } job ? TypedResults.Ok(EditView.From(job, store)) : Problems.EditNotFound(id);

    static IResult Result(string id, JobStore store, HttpResponse response)
    {
        if (store.Find(id) is not { } job) return Problems.EditNotFound(id);
        if (job is { Status: JobStatus.Succeeded, Output: { } output })
        {
            AddResultHeaders(response, job);
            return TypedResults.File(output.Bytes, output.ContentType, $"{job.Id}.{job.Parameters.OutputFormat.ToString().ToLowerInvariant()}");
        }
        var detail = job.Status switch
        {
            JobStatus.Failed => $"The edit failed: {job.Error?.Detail}",
            JobStatus.Canceled => "The edit was canceled.",
            _ => $"The edit is {job.Status.ToString().ToLowerInvariant()}; the result is not ready yet.",
        };
        return Problems.Problem(StatusCodes.Status409Conflict, Problems.Types.ResultNotAvailable, "No result.", detail,
            new Dictionary<string, object?> { ["status"] = job.Status.ToString().ToLowerInvariant() });
    }

    static IResult Events(string id, JobStore store, CancellationToken cancellation) =>
        store.Find(id) is { } job
            ? TypedResults.ServerSentEvents(Stream(job, store, cancellation))
            : Problems.EditNotFound(id);

    static async IAsyncEnumerable<SseItem<EditView>> Stream(EditJob job, JobStore store, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var events = job.Subscribe();
        await foreach (var change in events.ReadAllAsync(cancellation))
            yield return new SseItem<EditView>(EditView.From(job, change.State, store), change.Kind);
    }

    static IResult Cancel(string id, JobStore store, JobQueue queue, TimeProvider time)
    {
        if (store.Find(id) is not { } job) return Problems.EditNotFound(id);
        switch (job.RequestCancel(time.GetUtcNow()))
        {
            case CancelOutcome.RemovedFromQueue:
                queue.Left();
                break;
            case CancelOutcome.AlreadyFinished:
                return Problems.Problem(StatusCodes.Status409Conflict, Problems.Types.AlreadyFinished, "The edit has already finished.",
                    $"The edit is {job.Status.ToString().ToLowerInvariant()}.");
        }
        return TypedResults.Accepted($"/v1/edits/{job.Id}", EditView.From(job, store));
    }

    static void AddResultHeaders(HttpResponse response, EditJob job)
    {
        response.Headers["X-Edit-Id"] = job.Id;
        response.Headers["X-Seed"] = job.Parameters.Seed.ToString();
        response.Headers["Content-Location"] = $"/v1/edits/{job.Id}/result";
    }

    /// <summary>RFC 7240 <c>Prefer: wait=N</c>, capped.</summary>
    static TimeSpan PreferredWait(HttpRequest request, int maxSeconds)
    {
        foreach (var value in request.Headers["Prefer"])
            foreach (var part in (value ?? "").Split([',', ';'], StringSplitOptions.TrimEntries))
                if (part.StartsWith("wait=", StringComparison.OrdinalIgnoreCase) && int.TryParse(part[5..], out var seconds) && seconds > 0)
                    return TimeSpan.FromSeconds(Math.Min(seconds, maxSeconds));
        return TimeSpan.Zero;
    }

    static string NewId() => "ed_" + Guid.NewGuid().ToString("N");
}
