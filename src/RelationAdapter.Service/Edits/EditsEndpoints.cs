using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Service.Idempotency;
using RelationAdapter.Service.Platform;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Edits;

/// <summary>/v1/edits: submit, inspect, stream, download and cancel edit jobs.</summary>
public static class EditsEndpoints
{
    public static RouteGroupBuilder MapEdits(this RouteGroupBuilder v1)
    {
        var edits = v1.MapGroup("/edits").WithTags("Edits");

        edits.MapPost("/", Submit)
            .WithName("CreateEdit")
            .WithSummary("Submit an edit: apply the exemplar pair's change to the source image.")
            .WithDescription("Answers 202 with the job. With `Prefer: wait=N` (or a bare `Prefer: wait`, the configured default) it waits up to N seconds (capped) and answers 200 when the edit finished in time: the image for one source, the job (with a link per result) for several.")
            .Accepts<EditForm>("multipart/form-data", "application/json")
            .Produces(StatusCodes.Status200OK, typeof(Stream), "image/png", "image/jpeg", "image/webp")
            .WithMetadata(new AlsoAnswersJson(StatusCodes.Status200OK, typeof(EditView)), new AlsoAnswersJson(StatusCodes.Status200OK, typeof(EditImagesView)))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .DisableAntiforgery();

        edits.MapGet("/", List).WithName("ListEdits")
            .WithSummary("Edits, newest first, a page at a time: filter by status; follow next_cursor for the next page.")
            .WithDescription("`limit` 1 to 100 (default 20). With API keys on, only the caller's edits. Finished edits are listed until they are evicted (Queue:ResultRetention, Queue:MaxStoredResults).");

        edits.MapGet("/{id}", Get).WithName("GetEdit").WithSummary("The job's status, queue position, progress, timings, result metadata and webhook attempts.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        edits.MapGet("/{id}/result", Result).WithName("GetEditResult").WithSummary("The edited image (of the first source).")
            .Produces(StatusCodes.Status200OK, typeof(Stream), "image/png", "image/jpeg", "image/webp")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        edits.MapGet("/{id}/results/{index:int}", ResultAt).WithName("GetEditResultAt").WithSummary("The edited image of source `index` (0-based, in upload order).")
            .Produces(StatusCodes.Status200OK, typeof(Stream), "image/png", "image/jpeg", "image/webp")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);

        edits.MapGet("/{id}/events", Events).WithName("GetEditEvents")
            .WithSummary("Server-Sent Events of the job: 'status' first, then 'started', 'queue_position', 'progress' and a final 'succeeded', 'failed' or 'canceled'.")
            .WithDescription("Every event has an `id:`; reconnect with `Last-Event-ID` to resume. A comment line is sent as a heartbeat while nothing changes.")
            .ProducesProblem(StatusCodes.Status404NotFound);

        edits.MapDelete("/{id}", Cancel).WithName("CancelEdit")
            .WithSummary("Cancel: a queued job is removed at once; a running job stops at its next step.")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        return v1;
    }

    /// <summary>What the edit handlers use, bound by the framework as one parameter.</summary>
    public sealed record EditServices(ModelHost Host, IJobBoard Jobs, RelationCache Relations, ImageAdmission Images, UploadAdmission Uploads,
        ResultLinks Links, IdempotentRequests Idempotency, IOptions<LimitsOptions> Limits, IOptions<QueueOptions> QueueOptions, IOptions<WebhooksOptions> Webhooks, TimeProvider Time);

    static async Task<Results<FileContentHttpResult, Ok<EditView>, Ok<EditImagesView>, Accepted<EditView>, ValidationProblem, ProblemHttpResult>> Submit(HttpContext http,
        [AsParameters] EditServices services, CancellationToken cancellation)
    {
        if (!services.Host.Status.Ready) return Problems.NotReady(http.Response, services.Host.LoadError, services.QueueOptions.Value.RetryAfterSeconds);
        if (UploadAdmission.MediaTypeRefusal(http.Request) is { } unsupported) return unsupported;
        var jobs = services.Jobs;
        var owner = ApiKeyFilter.Caller(http);
        var key = http.Request.Headers[IdempotencyKey.Header].ToString();
        if (Problems.InvalidIdempotencyKey(key) is { } tooLong) return tooLong;
        var scope = IdempotentRequests.Scope(http, "/v1/edits", key);
        // A full queue answers at once, whatever the upload. A retry of a request already made (its idempotency key
        // known) is never refused for it: it makes nothing, it answers the original job.
        var known = key.Length > 0 && await services.Idempotency.KnowsAsync(scope);
        if (!known && await jobs.DepthAsync(cancellation) >= services.QueueOptions.Value.Capacity)
            return await QueueRefusedAsync(http.Response, Admission.Full, services, cancellation);

        var (form, unread) = await services.Uploads.ReadFormAsync(http, cancellation);
        if (unread is not null) return unread;
        var (submission, invalid) = EditFormParser.Read(form!, services.Limits.Value, services.Webhooks.Value);
        if (invalid is not null) return invalid;

        IIdempotencyClaim? claim = null;
        if (key.Length > 0)
        {
            JobRecord? original = null; // the replayed outcome's job, as the check for it found it
            var (mine, replay, reused) = await services.Idempotency.BeginAsync(scope, form!,
                async outcome => (original = await FindVisibleAsync(jobs, outcome.Id, http, cancellation)) is not null, cancellation);
            if (reused) return Problems.IdempotencyKeyReused(key);
            if (replay is not null && original is not null)
                return await WaitIfPreferred(http, original, jobs, services.QueueOptions.Value, submission!.ResponseFormat, cancellation);
            claim = mine;
        }
        using var _ = claim; // freed unless the job is accepted below

        var (job, refused) = await AdmitAsync(submission!, services, owner, services.Links.BaseUrlOf(http.Request), cancellation);
        if (refused is not null) return refused;

        // The place is taken once the body is complete and admitted: uploading holds none.
        var queued = false;
        try
        {
            var (place, admission) = await jobs.TryReserveAsync(cancellation);
            if (place is null) return await QueueRefusedAsync(http.Response, admission, services, cancellation);
            using (place)
                queued = await jobs.EnqueueAsync(place, job!, cancellation);
        }
        finally
        {
            if (!queued) job!.DisposeImages(); // never accepted: its images are the request's to release
        }
        if (!queued) return await QueueRefusedAsync(http.Response, Admission.ShuttingDown, services, cancellation);
        return await AcceptedAsync(http, job!.Spec, claim, submission!.ResponseFormat, services, cancellation);
    }

    /// <summary>
    /// The answer for a stored job, whatever the backend does from now on: a backend that goes away after the job was
    /// stored must not make its client believe nothing was accepted (and submit it again).
    /// </summary>
    static async Task<Results<FileContentHttpResult, Ok<EditView>, Ok<EditImagesView>, Accepted<EditView>, ValidationProblem, ProblemHttpResult>> AcceptedAsync(HttpContext http,
        EditSpec spec, IIdempotencyClaim? claim, ResponseFormat format, EditServices services, CancellationToken cancellation)
    {
        var accepted = new JobRecord(spec, JobState.Queued, null);
        try
        {
            if (claim is not null) await claim.CompleteAsync(new IdempotentOutcome(StatusCodes.Status202Accepted, spec.Id));
            accepted = await services.Jobs.FindAsync(spec.Id, cancellation) ?? accepted;
        }
        catch (BackendUnavailableException)
        {
            return TypedResults.Accepted($"/v1/edits/{spec.Id}", EditView.From(accepted, services.Links));
        }
        return await WaitIfPreferred(http, accepted, services.Jobs, services.QueueOptions.Value, format, cancellation);
    }

    /// <summary>The job of a valid form once its images are admitted (sources at their edit sizes, the pair padded or cached).</summary>
    static async Task<(NewEditJob? Job, ProblemHttpResult? Problem)> AdmitAsync(EditSubmission submission, EditServices services,
        string? owner, string baseUrl, CancellationToken cancellation)
    {
        var images = services.Images;
        var uploads = new List<CheckedUpload>();
        foreach (var (file, index) in submission.Sources.Select((file, index) => (file, index)))
        {
            var (source, refused) = images.Read(file);
            if (refused is not null) return (null, OfSource(refused, index));
            try
            {
                ImagePreprocessing.SourceSize(source!.Header.Width, source.Header.Height, submission.Settings.MaxSide);
            }
            catch (ArgumentException e)
            {
                return (null, OfSource(Problems.InvalidField(EditFormParser.SourceImage, e.Message), index));
            }
            uploads.Add(source);
        }

        RelationInput relation;
        if (submission.RelationId is { } relationId)
        {
            if (!await services.Relations.OwnsAsync(owner, relationId) || await services.Relations.LookupAsync(relationId) is not { } known)
                return (null, Problems.RelationNotFound(relationId));
            relation = new RelationInput(relationId, known.Tokens, null, null);
        }
        else
        {
            var (pair, pairRefused) = await ReadPairAsync(images, submission.PromptImage!, submission.ReferenceImage!, services.Host.AdapterIdentity, services.Relations,
                services.Jobs, owner, cancellation);
            if (pairRefused is not null) return (null, pairRefused);
            relation = pair!;
        }

        var sources = new List<Image<Rgb24>>();
        try
        {
            foreach (var (upload, index) in uploads.Select((upload, index) => (upload, index)))
            {
                var (decoded, undecodable) = await images.DecodeAsync(upload, ImageAdmission.ToEditSize(submission.Settings.MaxSide), cancellation);
                if (undecodable is not null) return (null, OfSource(undecodable, index));
                sources.Add(decoded!);
            }
        }
        finally
        {
            if (sources.Count < uploads.Count)
            {
                foreach (var source in sources) source.Dispose();
                relation.DisposeImages();
            }
        }
        var spec = new EditSpec(NewId(), 0, owner, submission.Settings, submission.OutputFormat, relation.Id, services.Time.GetUtcNow(),
            services.QueueOptions.Value.ResultRetention, submission.Webhook?.Url, submission.Webhook?.Events.Events, sources.Count,
            System.Diagnostics.Activity.Current?.Id, submission.Outputs, submission.Metadata, baseUrl);
        return (new NewEditJob(spec, sources, relation), null);
    }

    /// <summary>A source's problem says which source it is: a batch's parts all have one field name.</summary>
    static ProblemHttpResult OfSource(ProblemHttpResult problem, int index)
    {
        problem.ProblemDetails.Extensions["index"] = index;
        return problem;
    }

    /// <summary>The exemplar pair: cached tokens when its content id is known, else both images decoded and padded.</summary>
    static async Task<(RelationInput? Relation, ProblemHttpResult? Problem)> ReadPairAsync(ImageAdmission images, IFormFile promptImage, IFormFile referenceImage,
        string adapterIdentity, RelationCache relations, IJobBoard jobs, string? owner, CancellationToken cancellation)
    {
        var (pair, refused) = images.ReadPair(promptImage, referenceImage, adapterIdentity);
        if (refused is not null) return (null, refused);
        var id = pair!.RelationId;
        await relations.GrantAsync(owner, id); // whoever holds the pair may use its relation by id
        var cached = await relations.LookupAsync(id);
        // A worker that finds the relation gone (expired, evicted, flushed) encodes it again from the pair instead of
        // failing: the pair goes along unless the backend holds it already, so it is decoded and padded only then.
        if (cached is not null && await jobs.HoldsExemplarsAsync(id, cancellation)) return (new RelationInput(id, cached.Tokens, null, null), null);
        var (paddedBefore, paddedAfter, undecodable) = await images.DecodePairAsync(pair, cancellation);
        return undecodable is not null ? (null, undecodable) : (new RelationInput(id, cached?.Tokens, paddedBefore, paddedAfter), null);
    }

    /// <summary>
    /// Honours <c>Prefer: wait</c>: the image when the job finished in time, else the job. A waiting client that
    /// goes away before its job started cancels it (configurable): without an idempotency key nobody else can find it.
    /// </summary>
    static async Task<Results<FileContentHttpResult, Ok<EditView>, Ok<EditImagesView>, Accepted<EditView>, ValidationProblem, ProblemHttpResult>> WaitIfPreferred(HttpContext http, JobRecord job, IJobBoard jobs,
        QueueOptions options, ResponseFormat format, CancellationToken cancellation)
    {
        var wait = PreferredWait(http.Request, options);
        if (wait > TimeSpan.Zero)
        {
            http.Response.Headers["Preference-Applied"] = $"wait={(int)wait.TotalSeconds}";
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            timeout.CancelAfter(wait);
            try
            {
                await foreach (var change in jobs.WatchAsync(job.Id, null, timeout.Token)) job = job with { State = change.State, QueuePosition = change.QueuePosition };
            }
            catch (BackendUnavailableException)
            {
                // The job is stored; the backend went away while it was awaited: the job as last seen, not an error.
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                // With an idempotency key the client can come back for the job (a retry answers it), so it is kept.
                if (cancellation.IsCancellationRequested && options.CancelOnDisconnect && !http.Request.Headers.ContainsKey(IdempotencyKey.Header))
                    await jobs.CancelIfWaitingAsync(job.Id);
            }
            if (job.State.Status == JobStatus.Succeeded && format == ResponseFormat.B64Json && await InlineAsync(jobs, job) is { } inline)
            {
                AddResultHeaders(http.Response, job.Spec, 0);
                http.Response.Headers["Content-Location"] = $"/v1/edits/{job.Id}";
                return TypedResults.Ok(new EditImagesView(inline, EditView.From(job, Links(http))));
            }
            // Several images: the job (with their links) answers for them.
            if (job.State.Status == JobStatus.Succeeded && job.Spec.ResultCount > 1)
            {
                AddResultHeaders(http.Response, job.Spec, 0);
                http.Response.Headers["Content-Location"] = $"/v1/edits/{job.Id}";
                return TypedResults.Ok(EditView.From(job, Links(http)));
            }
            if (job.State.Status == JobStatus.Succeeded && await ResultOrNullAsync(jobs, job.Id) is { } image)
            {
                AddResultHeaders(http.Response, job.Spec, 0);
                return TypedResults.File(image, job.State.Output!.ContentType);
            }
        }
        return TypedResults.Accepted($"/v1/edits/{job.Id}", EditView.From(job, Links(http)));
    }

    static ResultLinks Links(HttpContext http) => http.RequestServices.GetRequiredService<ResultLinks>();

    /// <summary>Every image of a succeeded job, base64; null when one cannot be read now (the job answers instead).</summary>
    static async Task<List<EncodedImageView>?> InlineAsync(IJobBoard jobs, JobRecord job)
    {
        var inline = new List<EncodedImageView>();
        foreach (var (image, index) in job.State.Output!.Images.Select((image, index) => (image, index)))
        {
            byte[]? bytes;
            try
            {
                bytes = await jobs.ReadResultAsync(job.Id, index, CancellationToken.None);
            }
            catch (BackendUnavailableException)
            {
                return null;
            }
            if (bytes is null) return null;
            inline.Add(new EncodedImageView(index, image.Seed, image.Width, image.Height, Convert.ToBase64String(bytes)));
        }
        return inline;
    }

    /// <summary>The first image, or null when it cannot be read now (the job answers instead).</summary>
    static async Task<byte[]?> ResultOrNullAsync(IJobBoard jobs, string id)
    {
        try
        {
            return await jobs.ReadResultAsync(id, 0, CancellationToken.None);
        }
        catch (BackendUnavailableException)
        {
            return null;
        }
    }

    static async Task<ProblemHttpResult> QueueRefusedAsync(HttpResponse response, Admission admission, EditServices services, CancellationToken cancellation)
    {
        var options = services.QueueOptions.Value;
        return admission == Admission.Full
            ? Problems.Unavailable(response, options.RetryAfterSeconds, Problems.Types.QueueFull, "The queue is full.",
                $"{await services.Jobs.DepthAsync(cancellation)} edits are waiting and the other places are being uploaded to; retry later.")
            : Problems.ShuttingDown(response, options.RetryAfterSeconds);
    }

    /// <summary>The job, if it exists and the caller may see it: with API keys on, only its own key may.</summary>
    static async Task<JobRecord?> FindVisibleAsync(IJobBoard jobs, string id, HttpContext http, CancellationToken cancellation) =>
        await jobs.FindAsync(id, cancellation) is { } job && (job.Spec.Owner is null || job.Spec.Owner == ApiKeyFilter.Caller(http)) ? job : null;

    static async Task<Results<Ok<EditPage>, ValidationProblem>> List(HttpContext http, IJobBoard jobs, ResultLinks links, CancellationToken cancellation,
        string? status = null, string? limit = null, string? cursor = null)
    {
        var errors = new Dictionary<string, string[]>();
        JobStatus? wanted = null;
        if (status is not null)
        {
            if (EditFormParser.TryParseName<JobStatus>(status, out var named)) wanted = named;
            else EditFormParser.Add(errors, "status", "must be one of queued, running, succeeded, failed or canceled.");
        }
        // Read here rather than bound as an int, so that "abc" or a repeated limit is named in errors like any other mistake.
        var size = EditPage.DefaultLimit;
        if (limit is not null && !(int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) && size is >= 1 and <= EditPage.MaxLimit))
            EditFormParser.Add(errors, "limit", $"must be one whole number between 1 and {EditPage.MaxLimit}.");
        long? before = null;
        if (cursor is not null)
        {
            if (long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)) before = sequence;
            else EditFormParser.Add(errors, "cursor", "is not a cursor this service gave out.");
        }
        if (errors.Count > 0) return Problems.Validation(errors);

        var page = await jobs.NewestAsync(ApiKeyFilter.Caller(http), wanted, before, size + 1, cancellation);
        var items = page.Take(size).Select(job => EditView.From(job, links)).ToList();
        var next = page.Count > size ? page[size - 1].Spec.Sequence.ToString(CultureInfo.InvariantCulture) : null;
        return TypedResults.Ok(new EditPage(items, next));
    }

    static async Task<Results<Ok<EditView>, ProblemHttpResult>> Get(string id, HttpContext http, IJobBoard jobs, WebhookDispatcher webhooks, ResultLinks links,
        CancellationToken cancellation)
    {
        if (await FindVisibleAsync(jobs, id, http, cancellation) is not { } job) return Problems.EditNotFound(id);
        var attempts = job.Spec.Webhook is null ? [] : await webhooks.AttemptsAsync(id, cancellation);
        return TypedResults.Ok(EditView.From(job, links, attempts));
    }

    static Task<Results<FileContentHttpResult, ProblemHttpResult>> Result(string id, HttpContext http, IJobBoard jobs, CancellationToken cancellation) =>
        ResultAt(id, 0, http, jobs, cancellation);

    static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ResultAt(string id, int index, HttpContext http, IJobBoard jobs, CancellationToken cancellation)
    {
        // A signed link was made for whoever the job's owner gave it to.
        var job = ResultLinks.IsSigned(http) ? await jobs.FindAsync(id, cancellation) : await FindVisibleAsync(jobs, id, http, cancellation);
        if (job is null) return Problems.EditNotFound(id);
        if (index < 0 || index >= job.Spec.ResultCount)
            return Problems.Problem(StatusCodes.Status404NotFound, Problems.Types.NotFound, "No such result.",
                $"The edit has {job.Spec.ResultCount} result(s): 0 to {job.Spec.ResultCount - 1}.");
        var state = job.State;
        if (state is { Status: JobStatus.Succeeded, Output: { } output } && await jobs.ReadResultAsync(id, index, cancellation) is { } image)
        {
            AddResultHeaders(http.Response, job.Spec, index);
            var name = index == 0 ? job.Id : $"{job.Id}-{index}";
            return TypedResults.File(image, output.ContentType, $"{name}.{job.Spec.OutputFormat.ToString().ToLowerInvariant()}");
        }
        var detail = state.Status switch
        {
            JobStatus.Failed => $"The edit failed: {state.Error?.Message}",
            JobStatus.Canceled => "The edit was canceled.",
            JobStatus.Succeeded => "The edit's result has expired.",
            _ => $"The edit is {JobState.NameOf(state.Status)}; the result is not ready yet.",
        };
        return Problems.Problem(StatusCodes.Status409Conflict, Problems.Types.ResultNotAvailable, "No result.", detail,
            new Dictionary<string, object?> { ["job_status"] = JobState.NameOf(state.Status) });
    }

    static async Task<Results<EditEventStream, ProblemHttpResult>> Events(string id, HttpContext http, IJobBoard jobs, IOptions<QueueOptions> options,
        CancellationToken cancellation, [FromHeader(Name = "Last-Event-ID")] string? lastEventId = null)
    {
        if (await FindVisibleAsync(jobs, id, http, cancellation) is not { } job) return Problems.EditNotFound(id);
        long? lastSeen = long.TryParse(lastEventId, NumberStyles.None, CultureInfo.InvariantCulture, out var seen) ? seen : null;
        return new EditEventStream(job.Spec, jobs.WatchAsync(id, lastSeen, http.RequestAborted), options.Value.EventHeartbeat);
    }

    static async Task<Results<Accepted<EditView>, ProblemHttpResult>> Cancel(string id, HttpContext http, IJobBoard jobs, ResultLinks links, CancellationToken cancellation)
    {
        if (await FindVisibleAsync(jobs, id, http, cancellation) is null) return Problems.EditNotFound(id);
        var (outcome, job) = await jobs.CancelAsync(id, cancellation);
        if (job is null) return Problems.EditNotFound(id);
        if (outcome == CancelOutcome.AlreadyFinished)
            return Problems.Problem(StatusCodes.Status409Conflict, Problems.Types.AlreadyFinished, "The edit has already finished.",
                $"The edit is {JobState.NameOf(job.State.Status)}.", new Dictionary<string, object?> { ["job_status"] = JobState.NameOf(job.State.Status) });
        return TypedResults.Accepted($"/v1/edits/{job.Id}", EditView.From(job, links));
    }

    static void AddResultHeaders(HttpResponse response, EditSpec job, int index)
    {
        response.Headers["X-Edit-Id"] = job.Id;
        response.Headers["X-Seed"] = job.SeedOf(index).ToString(CultureInfo.InvariantCulture);
        response.Headers["Content-Location"] = $"/v1/edits/{job.Id}/results/{index}";
    }

    /// <summary>RFC 7240 <c>Prefer: wait=N</c>, capped; a bare <c>wait</c> waits the configured default.</summary>
    static TimeSpan PreferredWait(HttpRequest request, QueueOptions options)
    {
        foreach (var value in request.Headers["Prefer"])
            foreach (var part in (value ?? "").Split([',', ';'], StringSplitOptions.TrimEntries))
            {
                var (name, argument) = part.IndexOf('=') is var equals and >= 0 ? (part[..equals].Trim(), part[(equals + 1)..].Trim()) : (part, "");
                if (!name.Equals("wait", StringComparison.OrdinalIgnoreCase)) continue;
                argument = argument.Trim('"');
                // A wait past int's range is still a wait: the cap applies, as to any long one.
                var seconds = argument.Length == 0 ? options.DefaultWaitSeconds
                    : !argument.All(char.IsAsciiDigit) ? 0
                    : int.TryParse(argument, NumberStyles.None, CultureInfo.InvariantCulture, out var asked) ? asked : int.MaxValue;
                if (seconds > 0) return TimeSpan.FromSeconds(Math.Min(seconds, options.MaxWaitSeconds));
            }
        return TimeSpan.Zero;
    }

    static string NewId() => "ed_" + Guid.NewGuid().ToString("N");
}
