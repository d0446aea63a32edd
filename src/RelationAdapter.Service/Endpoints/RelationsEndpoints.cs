using Microsoft.Extensions.Options;
using RelationAdapter.Service.Caching;
using RelationAdapter.Service.Hosting;
using RelationAdapter.Service.Imaging;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Endpoints;

/// <summary>/v1/relations: encode an exemplar pair once and refer to it by id in later edits.</summary>
public static class RelationsEndpoints
{
    public static RouteGroupBuilder MapRelations(this RouteGroupBuilder v1)
    {
        var relations = v1.MapGroup("/relations").WithTags("Relations");

        relations.MapPost("/", Create).WithName("CreateRelation")
            .WithSummary("Encode an exemplar pair (before, after) into relation tokens and cache them.")
            .WithDescription("The id is derived from both images' bytes and the adapter, so the same pair always gets the same id. 201 when encoded now, 200 when it was already cached.")
            .Accepts<RelationForm>("multipart/form-data")
            .Produces<RelationView>(StatusCodes.Status201Created)
            .Produces<RelationView>(StatusCodes.Status200OK)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .DisableAntiforgery();

        relations.MapGet("/{id}", Get).WithName("GetRelation").WithSummary("A cached relation.")
            .Produces<RelationView>().ProducesProblem(StatusCodes.Status404NotFound);
        return v1;
    }

    static async Task<IResult> Create(HttpContext http, ModelHost host, RelationCache cache, InferenceWorker worker,
        IOptions<LimitsOptions> limits, CancellationToken cancellation)
    {
        if (host is not { State: ModelState.Ready, Models: { } models }) return Problems.NotReady(host.LoadError);
        var form = await http.Request.ReadFormAsync(cancellation);
        var errors = new Dictionary<string, string[]>();
        var files = new[] { "prompt_image", "reference_image" }.Select(name => (name, file: form.Files.GetFile(name))).ToList();
        foreach (var (name, file) in files.Where(f => f.file is null)) EditFormParser.Add(errors, name, "is required.");
        if (errors.Count > 0) return Problems.Validation(errors);

        var (uploads, refused) = await Uploads.ReadAsync(files.Select(f => f.file!), limits.Value, cancellation);
        using var _ = uploads;
        if (refused is not null) return refused;
        var id = RelationCache.IdFor(uploads[0].Bytes, uploads[1].Bytes, models.AdapterIdentity);
        if (cache.Lookup(id) is { } existing) return TypedResults.Ok(RelationView.From(existing));
        if (uploads.Decode(uploads[0], uploads[1]) is { } undecodable) return undecodable;

        var work = new RelationWork(id, uploads[0].Image!, uploads[1].Image!);
        uploads.HandOver(work.PromptImage, work.ReferenceImage);
        var relation = await worker.EncodeRelation(work).WaitAsync(cancellation);
        return TypedResults.Created($"/v1/relations/{id}", RelationView.From(relation));
    }

    static IResult Get(string id, RelationCache cache) =>
        cache.Peek(id) is { } relation ? TypedResults.Ok(RelationView.From(relation)) : Problems.RelationNotFound(id);
}
