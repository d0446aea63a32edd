using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace RelationAdapter.Service.Http;

/// <summary>Endpoint metadata: with this status the endpoint may also answer JSON of this type (besides what its results declare).</summary>
public sealed record AlsoAnswersJson(int Status, Type Type);

/// <summary>
/// What the typed results cannot say about the contract: response headers, the <c>Prefer</c> request header,
/// the bearer scheme with its 401, and the 500 any operation can answer. Kept in one table so the contract
/// test can hold the service to it.
/// </summary>
public sealed class OpenApiContract : IOperationFilter, IDocumentFilter
{
    public const string BearerScheme = "bearer";

    static readonly Dictionary<string, string> HeaderDescriptions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Location"] = "The job's (or relation's) URL.",
        ["Retry-After"] = "Seconds to wait before retrying.",
        ["X-Edit-Id"] = "The edit's id.",
        ["X-Seed"] = "The seed the edit used (also for a seed the server chose).",
        ["Preference-Applied"] = "The wait that was applied (RFC 7240), e.g. wait=60.",
        ["Content-Location"] = "The URL of what the body is: the result image (/v1/edits/{id}/results/{index}), or the job for several sources.",
        ["Content-Disposition"] = "attachment, with a file name made of the edit's id and the format's extension.",
        ["WWW-Authenticate"] = "Bearer: the scheme to authenticate with.",
    };

    /// <summary>Response headers by operation and status.</summary>
    public static readonly Dictionary<(string Operation, string Status), string[]> ResponseHeaders = new()
    {
        [("CreateEdit", "202")] = ["Location"],
        [("CreateEdit", "200")] = ["X-Edit-Id", "X-Seed", "Preference-Applied", "Content-Location"],
        [("CreateEdit", "503")] = ["Retry-After"],
        [("CancelEdit", "202")] = ["Location"],
        [("GetEditResult", "200")] = ["X-Edit-Id", "X-Seed", "Content-Location", "Content-Disposition"],
        [("GetEditResultAt", "200")] = ["X-Edit-Id", "X-Seed", "Content-Location", "Content-Disposition"],
        [("CreateRelation", "201")] = ["Location"],
        [("CreateRelation", "503")] = ["Retry-After"],
    };

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var id = operation.OperationId ?? "";
        // A status with a second body (the endpoint metadata holds one type per status).
        foreach (var json in context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<AlsoAnswersJson>().GroupBy(json => json.Status))
            if (operation.Responses?.TryGetValue(json.Key.ToString(), out var response) == true && response is OpenApiResponse concrete)
            {
                var schemas = json.Select(body => context.SchemaGenerator.GenerateSchema(body.Type, context.SchemaRepository)).ToList();
                concrete.Content!["application/json"] = new OpenApiMediaType { Schema = schemas.Count == 1 ? schemas[0] : new OpenApiSchema { OneOf = schemas } };
            }

        foreach (var (status, response) in operation.Responses ?? [])
        {
            if (!ResponseHeaders.TryGetValue((id, status), out var headers) || response is not OpenApiResponse concrete) continue;
            concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
            foreach (var header in headers) concrete.Headers[header] = Header(header);
        }

        if (id is "CreateEdit" or "CreateRelation")
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = Idempotency.Header, In = ParameterLocation.Header, Required = false,
                Description = $"At most {Idempotency.MaxKeyLength} characters. The same key with the same request (within Idempotency:Retention, 24 h) answers the original outcome and makes nothing new; with another request it is a 422 idempotency-key-reused.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = Idempotency.MaxKeyLength },
            });
        }

        if (id == "CreateEdit")
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = "Prefer", In = ParameterLocation.Header, Required = false,
                Description = "`wait=N` (RFC 7240): wait up to N seconds (capped by Queue:MaxWaitSeconds) and answer 200 when it is done in time (the image; the job for several sources); a bare `wait` waits Queue:DefaultWaitSeconds.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Example = System.Text.Json.Nodes.JsonValue.Create("wait=60") },
            });
        }

        if (!context.ApiDescription.RelativePath!.StartsWith("v1/", StringComparison.Ordinal)) return;
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] }];
        operation.Responses ??= [];
        var unauthorized = Problem("With Auth:ApiKeys set: no or an unknown bearer key.", context);
        unauthorized.Headers = new Dictionary<string, IOpenApiHeader> { ["WWW-Authenticate"] = Header("WWW-Authenticate") };
        operation.Responses.TryAdd("401", unauthorized);
        operation.Responses.TryAdd("500", Problem("An unexpected error.", context));
    }

    /// <summary>A form's schema with every binary field an image URL (http, https or a data: URI); a file list takes one URL or an array.</summary>
    static OpenApiSchema JsonVariant(OpenApiSchema form)
    {
        var json = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The same fields as the multipart form, as JSON; images are http(s) URLs, which the service fetches, or data: URIs.",
            Required = form.Required is null ? null : new HashSet<string>(form.Required),
            Properties = new Dictionary<string, IOpenApiSchema>(),
        };
        foreach (var (name, property) in form.Properties ?? new Dictionary<string, IOpenApiSchema>())
        {
            var url = new OpenApiSchema { Type = JsonSchemaType.String, Description = property.Description };
            json.Properties[name] = JsonForms.ObjectFields.Contains(name) ? new OpenApiSchema
            {
                Type = JsonSchemaType.Object, Description = property.Description,
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.String },
            } : property switch
            {
                { Format: "binary" } => url,
                { Type: JsonSchemaType.Array, Items.Format: "binary" } => new OpenApiSchema
                {
                    Description = property.Description,
                    OneOf = [new OpenApiSchema { Type = JsonSchemaType.String }, new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } }],
                },
                _ => property,
            };
        }
        return json;
    }

    static OpenApiHeader Header(string name) =>
        new() { Description = HeaderDescriptions[name], Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };

    static OpenApiResponse Problem(string description, OperationFilterContext context) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/problem+json"] = new() { Schema = context.SchemaGenerator.GenerateSchema(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), context.SchemaRepository) },
        },
    };

    /// <summary>The scheme of Auth:ApiKeys (registered with the generator, so operations can refer to it).</summary>
    public static OpenApiSecurityScheme Bearer => new()
    {
        Type = SecuritySchemeType.Http, Scheme = "bearer",
        Description = "Required when Auth:ApiKeys is set: `Authorization: Bearer <key>`. Without keys configured the API is open.",
    };

    /// <summary>The operations whose multipart body may also come as JSON, and the schema of each form.</summary>
    static readonly Dictionary<string, string> JsonBodies = new() { ["CreateEdit"] = "EditForm", ["CreateRelation"] = "RelationForm" };

    /// <summary>The JSON body's schema name for a form's schema (the form's fields, images as URLs).</summary>
    static string JsonSchemaOf(string form) => form.Replace("Form", "Json", StringComparison.Ordinal);

    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        // The JSON bodies are the forms with their images as URLs: derived here from the one definition of the fields.
        var schemas = document.Components?.Schemas;
        foreach (var form in JsonBodies.Values)
            if (schemas?.TryGetValue(form, out var found) == true && found is OpenApiSchema formSchema)
                schemas[JsonSchemaOf(form)] = JsonVariant(formSchema);
        foreach (var (path, item) in document.Paths)
            foreach (var (_, operation) in item.Operations ?? [])
                if (operation.OperationId is { } id && JsonBodies.TryGetValue(id, out var name) && operation.RequestBody is OpenApiRequestBody body)
                {
                    body.Content ??= new Dictionary<string, OpenApiMediaType>();
                    body.Content["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(JsonSchemaOf(name), document) };
                }

        // One 400 schema serves validation problems (with errors per field) and the others (invalid image,
        // malformed body), which have no field list.
        if (document.Components?.Schemas?.TryGetValue("HttpValidationProblemDetails", out var validation) == true && validation is OpenApiSchema schema)
            schema.Required?.Remove("errors");
    }
}
