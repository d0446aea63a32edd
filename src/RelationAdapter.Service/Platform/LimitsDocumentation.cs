using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// Writes the configured limits into the OpenAPI document: the ranges and defaults <c>EditFormParser</c>
/// enforces and the upload sizes <see cref="ImageAdmission"/> enforces, all read from <see cref="LimitsOptions"/>,
/// and the page sizes of the edit listing, so the document (and the clients generated from it) states what is enforced.
/// </summary>
public sealed class LimitsDocumentation(IOptions<LimitsOptions> options) : ISchemaFilter, IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId != "ListEdits") return;
        var limit = operation.Parameters!.Single(parameter => parameter.Name == "limit");
        // Bound as text (a bad value is a validation error naming it); an integer to its clients.
        var schema = Concrete(limit.Schema!);
        (schema.Type, schema.Format) = (JsonSchemaType.Integer, "int32");
        Range(schema, new Bounds<int>(1, EditPage.MaxLimit, EditPage.DefaultLimit));
    }

    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema form || form.Properties is not { } fields) return;
        var limits = options.Value;
        if (context.Type == typeof(EditForm))
        {
            Range(fields[nameof(EditForm.steps)], limits.Steps);
            Range(fields[nameof(EditForm.guidance)], limits.Guidance);
            Range(fields[nameof(EditForm.adapter_scale)], limits.AdapterScale);
            Range(fields[nameof(EditForm.seed)], limits.Seed);
            Range(fields[nameof(EditForm.max_side)], limits.MaxSide);
            Range(fields[nameof(EditForm.cache_threshold)], limits.CacheThreshold);
            Range(fields[nameof(EditForm.n)], limits.Outputs);
            Concrete(fields[nameof(EditForm.prompt)]).MaxLength = limits.MaxPromptLength;
            Concrete(fields[nameof(EditForm.source_image)]).MaxItems = limits.MaxSourcesPerEdit;
            Uploads(form, limits, nameof(EditForm.source_image), nameof(EditForm.prompt_image), nameof(EditForm.reference_image));
        }
        else if (context.Type == typeof(RelationForm))
            Uploads(form, limits, nameof(EditForm.prompt_image), nameof(EditForm.reference_image));
    }

    static void Range<T>(IOpenApiSchema field, Bounds<T> bounds) where T : struct, INumber<T>
    {
        var schema = Concrete(field);
        schema.Minimum = Invariant(bounds.Min);
        schema.Maximum = Invariant(bounds.Max);
        schema.Default = bounds.Default is { } value ? JsonValue.Create(value) : null;
    }

    /// <summary>The file fields' sizes (a schema has no keyword for a file's bytes or pixels) and the whole body's.</summary>
    static void Uploads(OpenApiSchema form, LimitsOptions limits, params string[] files)
    {
        foreach (var file in files)
            Concrete(form.Properties![file]).Description +=
                $" At most {limits.MaxFileBytes} bytes (Limits:MaxFileBytes) and {limits.MaxPixels} pixels, width × height (Limits:MaxPixels).";
        form.Description += $" The request body is at most {limits.MaxRequestBytes} bytes (Limits:MaxRequestBytes).";
    }

    static OpenApiSchema Concrete(IOpenApiSchema field) =>
        field as OpenApiSchema ?? throw new InvalidOperationException("A form field's schema is a reference; the limits cannot be written into it.");

    static string Invariant<T>(T value) where T : INumber<T> => value.ToString(null, CultureInfo.InvariantCulture);
}

public static class LimitsDocumentationRegistration
{
    /// <summary>The configured limits in the OpenAPI document (<see cref="LimitsDocumentation"/>).</summary>
    public static IServiceCollection AddLimitsDocumentation(this IServiceCollection services)
    {
        services.ConfigureSwaggerGen(swagger =>
        {
            swagger.SchemaFilter<LimitsDocumentation>();
            swagger.OperationFilter<LimitsDocumentation>();
        });
        return services;
    }
}
