using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Idempotency;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Relations;
using RelationAdapter.Service.Edits;
using RelationAdapter.Service.Idempotency;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Relations;

/// <summary>/v1/relations: encode an exemplar pair once and refer to it by id in later edits.</summary>
public static class RelationsEndpoints
{
    public static RouteGroupBuilder MapRelations(this RouteGroupBuilder v1)
    {
        var relations = v1.MapGroup("/relations").WithTags("Relations");

        relations.MapPost("/", Create).WithName("CreateRelation")
            .WithSummary("Encode an exemplar pair (before, after) into relation tokens and cache them.")
            .WithDescription("The id is derived from both images' bytes and the adapter, so the same pair always gets the same id. 201 when encoded by this request, 200 when it was already cached or being encoded for another request; with API keys, relations are each key's own: 201 for a key's first upload of the pair, 200 after, and another key's relation is not found. A created relation is always cached (the least recently used ones make room).")
            .Accepts<RelationForm>("multipart/form-data", "application/json")
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status500InternalServerError)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .DisableAntiforgery();

        relations.MapGet("/{id}", Get).WithName("GetRelation").WithSummary("A cached relation.")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    static async Task<Results<Created<RelationView>, Ok<RelationView>, ValidationProblem, ProblemHttpResult>> Create(HttpContext http, ModelHost host, RelationCache cache, IRelationRequests encoder, RelationPlaces places, ImageAdmission images,
        UploadAdmission uploads, IdempotentRequests idempotency, IOptions<QueueOptions> queueOptions, CancellationToken cancellation)
    {
        if (!host.Status.Ready) return Problems.NotReady(http.Response, host.LoadError, queueOptions.Value.RetryAfterSeconds);
        if (UploadAdmission.MediaTypeRefusal(http.Request) is { } unsupported) return unsupported;
        var key = http.Request.Headers[IdempotencyKey.Header].ToString();
        if (Problems.InvalidIdempotencyKey(key) is { } tooLong) return tooLong;
        var (form, unread) = await uploads.ReadFormAsync(http, cancellation);
        if (unread is not null) return unread;

        IIdempotencyClaim? claim = null;
        if (key.Length > 0)
        {
            CachedRelation? original = null; // the replayed outcome's relation, as the check for it found it
            var (mine, replay, reused) = await idempotency.BeginAsync(IdempotentRequests.Scope(http, "/v1/relations", key), form!,
                async outcome => (original = await cache.PeekAsync(outcome.Id)) is not null, cancellation);
            if (reused) return Problems.IdempotencyKeyReused(key);
            if (replay is not null && original is not null) return await AnsweredAsync(null, replay.StatusCode, original);
            claim = mine;
        }
        using var _ = claim; // freed unless a relation is answered below

        var errors = new Dictionary<string, string[]>();
        var before = EditFormParser.SingleFile(form!, EditFormParser.PromptImage, errors);
        var after = EditFormParser.SingleFile(form!, EditFormParser.ReferenceImage, errors);
        if (before is null) EditFormParser.Add(errors, EditFormParser.PromptImage, "is required.");
        if (after is null) EditFormParser.Add(errors, EditFormParser.ReferenceImage, "is required.");
        if (errors.Count > 0) return Problems.Validation(errors);

        var (pair, refused) = images.ReadPair(before!, after!, host.AdapterIdentity);
        if (refused is not null) return refused;
        var id = pair!.RelationId;
        // With API keys, a relation is each key's own: a key's first upload of a pair is its creation (201), whoever
        // encoded the pair, so no answer tells one key what another uploaded.
        var owner = ApiKeyFilter.Caller(http);
        bool? firstForOwner = owner is null ? null : !await cache.OwnsAsync(owner, id);
        if (await cache.LookupAsync(id) is { } existing)
            return await AnsweredAsync(claim, await StatusForAsync(created: false), existing);
        // The place is taken once the body is complete: uploading holds none.
        using var place = places.TryTake();
        if (place is null)
            return Problems.Unavailable(http.Response, queueOptions.Value.RetryAfterSeconds, Problems.Types.QueueFull, "Too many relations are being encoded.",
                $"{queueOptions.Value.RelationCapacity} relation requests are in progress; retry later.");
        var (paddedBefore, paddedAfter, undecodable) = await images.DecodePairAsync(pair, cancellation);
        if (undecodable is not null) return undecodable;

        // In memory the place stays taken until the pair is encoded, even when this client leaves: the queue of
        // encodings is bounded by the places, not by the requests still waiting. (In Redis the pair waits there,
        // and the place is held while its request waits.)
        var (done, joined) = await encoder.EncodeAsync(new RelationWork(new RelationInput(id, null, paddedBefore, paddedAfter), place.HandOver()), cancellation);
        return await AnswerAsync(done, joined);

        async Task<int> StatusForAsync(bool created)
        {
            if (owner is not null) await cache.GrantAsync(owner, id);
            return firstForOwner ?? created ? StatusCodes.Status201Created : StatusCodes.Status200OK;
        }

        async Task<Results<Created<RelationView>, Ok<RelationView>, ValidationProblem, ProblemHttpResult>> AnswerAsync(Task<CachedRelation> encoding, bool joined)
        {
            try
            {
                var relation = await encoding.WaitAsync(cancellation);
                return await AnsweredAsync(claim, await StatusForAsync(created: !joined), relation);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                return Problems.ShuttingDown(http.Response, queueOptions.Value.RetryAfterSeconds);
            }
            catch (TimeoutException e)
            {
                return Problems.Unavailable(http.Response, queueOptions.Value.RetryAfterSeconds, Problems.Types.NotReady, "The pair is not encoded yet.", e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException and not BackendUnavailableException)
            {
                return Problems.Problem(StatusCodes.Status500InternalServerError, Problems.Types.Internal, "The relation could not be encoded.", e.Message);
            }
        }
    }

    /// <summary>201 for a relation this request encoded, 200 for one that existed; the idempotency key remembers which.</summary>
    static async Task<Results<Created<RelationView>, Ok<RelationView>, ValidationProblem, ProblemHttpResult>> AnsweredAsync(IIdempotencyClaim? claim, int status,
        CachedRelation relation)
    {
        if (claim is not null) await claim.CompleteAsync(new IdempotentOutcome(status, relation.Id));
        return status == StatusCodes.Status201Created
            ? TypedResults.Created($"/v1/relations/{relation.Id}", RelationView.From(relation))
            : TypedResults.Ok(RelationView.From(relation));
    }

    static async Task<Results<Ok<RelationView>, ProblemHttpResult>> Get(string id, HttpContext http, RelationCache cache) =>
        await cache.OwnsAsync(ApiKeyFilter.Caller(http), id) && await cache.PeekAsync(id) is { } relation
            ? TypedResults.Ok(RelationView.From(relation)) : Problems.RelationNotFound(id);
}
