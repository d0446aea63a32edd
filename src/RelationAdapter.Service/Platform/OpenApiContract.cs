using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;
using RelationAdapter.Jobs.Webhooks;

namespace RelationAdapter.Service.Platform;

/// <summary>Endpoint metadata: with this status the endpoint may also answer JSON of this type (besides what its results declare).</summary>
public sealed record AlsoAnswersJson(int Status, Type Type);

/// <summary>
/// Endpoint metadata: the endpoint answers Server-Sent Events, <paramref name="ChangeEvents"/> with <paramref name="Data"/>
/// as their data, and when its backend goes away a last <paramref name="ReconnectEvent"/>. The stream opens with a
/// <c>retry: <paramref name="RetryMilliseconds"/></c> line.
/// </summary>
public sealed record ServerSentEvents(Type Data, IReadOnlyList<string> ChangeEvents, string ReconnectEvent, int RetryMilliseconds);

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
                Name = IdempotencyKey.Header, In = ParameterLocation.Header, Required = false,
                Description = $"At most {IdempotencyKey.MaxLength} characters. The same key with the same request (within Idempotency:Retention, 24 h) answers the original outcome and makes nothing new; with another request it is a 422 idempotency-key-reused.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = IdempotencyKey.MaxLength },
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

        foreach (var events in context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<ServerSentEvents>())
            foreach (var (_, response) in operation.Responses ?? [])
                if (response.Content?.TryGetValue("text/event-stream", out var stream) == true)
                    stream.Schema = EventSchema(events, context);

        if (id == "ListEdits" && operation.Parameters?.FirstOrDefault(parameter => parameter.Name == "status") is OpenApiParameter filter)
        {
            filter.Description = "Only the edits in this state.";
            filter.Schema = context.SchemaGenerator.GenerateSchema(typeof(Jobs.JobStatus), context.SchemaRepository);
        }

        if (!context.ApiDescription.RelativePath!.StartsWith("v1/", StringComparison.Ordinal)) return;
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] }];
        operation.Responses ??= [];
        var unauthorized = Problem("With Auth:ApiKeys set: no or an unknown bearer key.", context);
        unauthorized.Headers = new Dictionary<string, IOpenApiHeader> { ["WWW-Authenticate"] = Header("WWW-Authenticate") };
        operation.Responses.TryAdd("401", unauthorized);
        // Any /v1 request that carries a link's signature is checked as a link (ApiKeyFilter).
        operation.Responses.TryAdd("403", Problem($"invalid-link: the request's `{ResultLinks.SignatureParameter}` does not match its path and `{ResultLinks.ExpiresParameter}`, or has expired.", context));
        operation.Responses.TryAdd("500", Problem("An unexpected error.", context));
        // Every operation reads or writes the job backend, which may be away (Queue:Backend redis).
        if (!operation.Responses.ContainsKey("503"))
        {
            var outage = Problem("backend-unavailable: the job backend cannot be reached.", context);
            outage.Headers = new Dictionary<string, IOpenApiHeader> { ["Retry-After"] = Header("Retry-After") };
            operation.Responses.Add("503", outage);
        }

        if (id == ApiKeyFilter.SignedRoute)
        {
            // A signed link (as `links` and webhooks give it) stands in for the bearer key on this route.
            operation.Security.Add(new OpenApiSecurityRequirement());
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = ResultLinks.ExpiresParameter, In = ParameterLocation.Query, Required = false,
                Description = "A signed link's expiry (Unix seconds), as the service wrote it into the link.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64" },
            });
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = ResultLinks.SignatureParameter, In = ParameterLocation.Query, Required = false,
                Description = "A signed link's signature: with it the link needs no bearer key until it expires.",
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }
    }

    /// <summary>
    /// One event of an event stream, as a schema generators can type (OpenAPI 3.0 has no per-event schema for a stream):
    /// either a change of the job, whose data is the job view, or the last word of a stream whose backend went away.
    /// Two shapes told apart by <c>event</c>, so a typed client narrows <c>data</c> by the event's name.
    /// </summary>
    static OpenApiSchemaReference EventSchema(ServerSentEvents events, OperationFilterContext context)
    {
        var document = context.Document;
        var data = context.SchemaGenerator.GenerateSchema(events.Data, context.SchemaRepository);
        var schemas = context.SchemaRepository.Schemas;
        schemas["EditChangeEvent"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "A change of the job: `status` first (the state when the stream opened), then `queue_position` while it moves up, `started`, `progress` per step, and one of `succeeded`, `failed`, `canceled` last.",
            Required = new HashSet<string> { "event", "id", "data" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["event"] = Names(events.ChangeEvents, "The event's name (the `event:` line)."),
                ["id"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The `id:` line: send the last one seen as Last-Event-ID to resume without repeats." },
                ["data"] = data,
            },
        };
        schemas["EditReconnectData"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "Why the stream ended early, and when to come back.",
            Required = new HashSet<string> { "type", "retry_ms" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = $"{Problems.Types.BackendUnavailable}: the job backend cannot be reached." },
                ["retry_ms"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "Milliseconds to wait before reconnecting." },
            },
        };
        schemas["EditReconnectEvent"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "The last event of a stream whose job backend went away: reconnect after `retry` milliseconds with Last-Event-ID.",
            Required = new HashSet<string> { "event", "retry", "data" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["event"] = Names([events.ReconnectEvent], "The event's name (the `event:` line)."),
                ["retry"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The `retry:` line, in milliseconds." },
                ["data"] = new OpenApiSchemaReference("EditReconnectData", document),
            },
        };
        schemas["EditEvent"] = new OpenApiSchema
        {
            Description = $"One Server-Sent Event: its `event:` name, its `id:` and its `data:` line (JSON). The stream starts with a `retry: {events.RetryMilliseconds}` line; a comment line (`: heartbeat`) comes while nothing changes.",
            OneOf = [new OpenApiSchemaReference("EditChangeEvent", document), new OpenApiSchemaReference("EditReconnectEvent", document)],
            Discriminator = new OpenApiDiscriminator
            {
                PropertyName = "event",
                Mapping = events.ChangeEvents.Select(name => (Name: name, Schema: "EditChangeEvent")).Append((Name: events.ReconnectEvent, Schema: "EditReconnectEvent"))
                    .ToDictionary(pair => pair.Name, pair => new OpenApiSchemaReference(pair.Schema, document)),
            },
        };
        return new OpenApiSchemaReference("EditEvent", document);
    }

    static OpenApiSchema Names(IEnumerable<string> names, string? description = null) => new()
    {
        Type = JsonSchemaType.String, Description = description, Enum = names.Select(name => (System.Text.Json.Nodes.JsonNode)name!).ToList(),
    };

    /// <summary>
    /// The members the service adds to a problem: what a client reads without a dictionary of extras. <c>type</c> stays a
    /// string: new problem types come within v1 (an additive change), which an enum would turn into a breaking one for
    /// clients that refuse unknown members; the description lists those of this version.
    /// </summary>
    static void DescribeProblem(OpenApiSchema problem, OpenApiDocument document)
    {
        problem.Properties ??= new Dictionary<string, IOpenApiSchema>();
        if (problem.Properties.TryGetValue("type", out var type) && type is OpenApiSchema typeSchema)
            typeSchema.Description = "Stable and one of (more may come within v1): " + string.Join(", ", Problems.AllTypes) + ".";
        problem.Properties["errors"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "validation: the messages for each invalid field, by field name.",
            AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
        };
        problem.Properties["field"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "invalid-image, image-too-large, request-too-large: the form (or JSON) field whose image it is.",
        };
        problem.Properties["index"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Integer, Format = "int32",
            Description = "A problem with a source_image: which one (0-based, in upload order).",
        };
        problem.Properties["job_status"] = new OpenApiSchema
        {
            AllOf = [new OpenApiSchemaReference("JobStatus", document)],
            Description = "result-not-available: the job's state.",
        };
        problem.Properties["trace_id"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "The request's W3C trace context (traceparent): quote it when reporting a problem.",
        };
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

    /// <summary>Where generated clients send requests unless told otherwise: the quick start's address.</summary>
    public const string DefaultServer = "http://localhost:8080";

    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        document.Servers = [new OpenApiServer { Url = DefaultServer, Description = "The service as the quick start runs it; clients set their own base URL." }];
        var components = document.Components!.Schemas!;
        // A closed set of names is an enum, so generated clients get a type for it instead of a string.
        components["WebhookEvent"] = Names(WebhookEvents.All);
        foreach (var (owner, property) in new[] { ("EditForm", "webhook_events_filter"), ("WebhookView", "events_filter") })
            if (components.TryGetValue(owner, out var found) && found.Properties?.TryGetValue(property, out var list) == true && list is OpenApiSchema array)
                array.Items = new OpenApiSchemaReference("WebhookEvent", document);
        foreach (var problem in new[] { "ProblemDetails", "HttpValidationProblemDetails" })
            if (components.TryGetValue(problem, out var found) && found is OpenApiSchema problemSchema) DescribeProblem(problemSchema, document);

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
                    // Each image part may be any image (it is sniffed, not trusted by its type). Saying so also makes Kiota
                    // give the multipart body its MultipartBody, which it can serialize, instead of a model it cannot.
                    if (body.Content.TryGetValue("multipart/form-data", out var multipart))
                        multipart.Encoding = JsonForms.ImageFields
                            .Where(field => ((OpenApiSchema)components[name]).Properties?.ContainsKey(field) == true)
                            .ToDictionary(field => field, _ => new OpenApiEncoding { ContentType = "image/*" });
                    body.Content["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(JsonSchemaOf(name), document) };
                }

        // One 400 schema serves validation problems (with errors per field) and the others (invalid image,
        // malformed body), which have no field list.
        if (document.Components?.Schemas?.TryGetValue("HttpValidationProblemDetails", out var validation) == true && validation is OpenApiSchema schema)
            schema.Required?.Remove("errors");
    }
}
