using System.Text.Json;

namespace RelationAdapter.Service.Tests.Contract;

/// <summary>
/// Checks a JSON value against an OpenAPI 3.0 schema of the committed document: $ref, allOf, type, nullable,
/// oneOf (exactly one alternative fits), enum, required and declared properties, additionalProperties, items, integer
/// formats and numeric bounds —
/// the subset the service's document uses. Every mismatch is reported with its JSON path.
/// </summary>
public sealed class OpenApiSchemaChecker(JsonElement document)
{
    public List<string> Check(JsonElement value, JsonElement schema, string path = "$")
    {
        var errors = new List<string>();
        Visit(value, schema, path, errors);
        return errors;
    }

    JsonElement Resolve(JsonElement schema)
    {
        while (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!.Split('/')[^1];
            schema = document.GetProperty("components").GetProperty("schemas").GetProperty(name);
        }
        return schema;
    }

    void Visit(JsonElement value, JsonElement schema, string path, List<string> errors)
    {
        var nullable = schema.TryGetProperty("nullable", out var n) && n.GetBoolean();
        schema = Resolve(schema);
        nullable |= schema.TryGetProperty("nullable", out var rn) && rn.GetBoolean();
        if (value.ValueKind == JsonValueKind.Null)
        {
            if (!nullable) errors.Add($"{path}: null, but the schema is not nullable");
            return;
        }
        if (schema.TryGetProperty("allOf", out var allOf))
            foreach (var part in allOf.EnumerateArray()) Visit(value, part, path, errors);
        if (schema.TryGetProperty("oneOf", out var oneOf))
        {
            var misfits = oneOf.EnumerateArray().Select(alternative => Check(value, alternative, path)).ToList();
            var fitting = misfits.Count(misfit => misfit.Count == 0);
            if (fitting == 0) errors.Add($"{path}: fits none of oneOf: {string.Join("; ", misfits.SelectMany(misfit => misfit))}");
            else if (fitting > 1) errors.Add($"{path}: fits {fitting} alternatives of oneOf, not one");
        }

        if (schema.TryGetProperty("enum", out var values) && !values.EnumerateArray().Any(option => JsonElement.DeepEquals(option, value)))
            errors.Add($"{path}: {value} is not one of {values}");

        var type = schema.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (type)
        {
            case "object":
                if (value.ValueKind != JsonValueKind.Object) { errors.Add($"{path}: expected an object, got {value.ValueKind}"); return; }
                var properties = schema.TryGetProperty("properties", out var p) ? p : default;
                if (schema.TryGetProperty("required", out var required))
                    foreach (var name in required.EnumerateArray().Select(r => r.GetString()!))
                        if (!value.TryGetProperty(name, out _)) errors.Add($"{path}: required '{name}' is missing");
                var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
                foreach (var property in value.EnumerateObject())
                {
                    if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var declared))
                        Visit(property.Value, declared, $"{path}.{property.Name}", errors);
                    else if (additional.ValueKind == JsonValueKind.Object)
                        Visit(property.Value, additional, $"{path}.{property.Name}", errors);
                    else if (additional.ValueKind == JsonValueKind.False || additional.ValueKind == JsonValueKind.Undefined && properties.ValueKind == JsonValueKind.Object)
                        errors.Add($"{path}: '{property.Name}' is not in the schema");
                }
                break;
            case "array":
                if (value.ValueKind != JsonValueKind.Array) { errors.Add($"{path}: expected an array, got {value.ValueKind}"); return; }
                var index = 0;
                foreach (var item in value.EnumerateArray()) Visit(item, schema.GetProperty("items"), $"{path}[{index++}]", errors);
                break;
            case "string":
                if (value.ValueKind != JsonValueKind.String) errors.Add($"{path}: expected a string, got {value.ValueKind}");
                else if (schema.TryGetProperty("format", out var f) && f.GetString() == "date-time" && !DateTimeOffset.TryParse(value.GetString(), out _))
                    errors.Add($"{path}: '{value.GetString()}' is not a date-time");
                break;
            case "integer":
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var integer)) { errors.Add($"{path}: expected an integer, got {value}"); return; }
                if (schema.TryGetProperty("format", out var bits) && bits.GetString() == "int32" && integer is < int.MinValue or > int.MaxValue)
                    errors.Add($"{path}: {integer} does not fit int32");
                CheckBounds(integer, schema, path, errors);
                break;
            case "number":
                if (value.ValueKind != JsonValueKind.Number) { errors.Add($"{path}: expected a number, got {value.ValueKind}"); return; }
                CheckBounds(value.GetDouble(), schema, path, errors);
                break;
            case "boolean":
                if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) errors.Add($"{path}: expected a boolean, got {value.ValueKind}");
                break;
        }
    }

    static void CheckBounds(double number, JsonElement schema, string path, List<string> errors)
    {
        if (schema.TryGetProperty("minimum", out var min) && number < min.GetDouble()) errors.Add($"{path}: {number} is below the minimum {min}");
        if (schema.TryGetProperty("maximum", out var max) && number > max.GetDouble()) errors.Add($"{path}: {number} is above the maximum {max}");
    }
}
