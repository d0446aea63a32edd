using NJsonSchema;
using NJsonSchema.CodeGeneration;
using NJsonSchema.CodeGeneration.CSharp;
using NSwag;
using NSwag.CodeGeneration;
using NSwag.CodeGeneration.CSharp;
using NSwag.CodeGeneration.CSharp.Models;
using NSwag.CodeGeneration.OperationNameGenerators;

// dotnet run --project build/ClientGenerator -- <openapi document> <output .cs>
//
// NSwag's C# client generator, run on the committed document with the rules its command line cannot express:
//  - C# names: snake_case JSON members and enum values become PascalCase properties and members, and camelCase
//    parameters;
//  - schemas named like ASP.NET Core's problem types get client names, so a caller that also uses ASP.NET Core
//    does not meet two ProblemDetails;
//  - multipart form fields keep the form schema's `required` (NSwag makes every field optional:
//    RicoSuter/NSwag#4379), so required fields are required parameters;
//  - operations answering with a Server-Sent Events stream are left out: a generated client would read the
//    stream as one JSON body. RelationAdapterClient.Events.cs reads it by hand.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: RelationAdapter.ClientGenerator <openapi document> <output .cs>");
    return 2;
}

var document = await OpenApiDocument.FromFileAsync(args[0]);
LeaveOutEventStreams(document);
var formTypes = FormFieldsAsParameters(document);

var settings = new CSharpClientGeneratorSettings
{
    ClassName = "RelationAdapterClient",
    GenerateClientInterfaces = true,
    UseBaseUrl = false,
    GenerateOptionalParameters = true,
    OperationNameGenerator = new SingleClientFromOperationIdOperationNameGenerator(),
    ParameterNameGenerator = new CamelCaseParameterNames(),
    CSharpGeneratorSettings =
    {
        Namespace = "RelationAdapter.Client",
        JsonLibrary = CSharpJsonLibrary.SystemTextJson,
        // 9+: enum members carry [JsonStringEnumMemberName], so "encode_prompt" reads as EncodePrompt.
        JsonLibraryVersion = 10.0m,
        GenerateNullableReferenceTypes = true,
        GenerateOptionalPropertiesAsNullable = true,
        ArrayType = "System.Collections.Generic.IReadOnlyList",
        ArrayInstanceType = "System.Collections.Generic.List",
        DictionaryType = "System.Collections.Generic.IReadOnlyDictionary",
        DictionaryInstanceType = "System.Collections.Generic.Dictionary",
        PropertyNameGenerator = new PascalCasePropertyNames(),
        EnumNameGenerator = new PascalCaseEnumNames(),
        TypeNameGenerator = new ClientTypeNames(),
        // The form schemas became parameters; a class for them would be unused.
        ExcludedTypeNames = formTypes,
    },
};

var code = new ClientGenerator(document, settings).GenerateFile().ReplaceLineEndings("\n");
await File.WriteAllTextAsync(args[1], code);
Console.WriteLine($"wrote {args[1]} from {args[0]}");
return 0;

static void LeaveOutEventStreams(OpenApiDocument document)
{
    foreach (var item in document.Paths.Values)
        foreach (var (method, operation) in item.ToList())
            if (operation.ActualResponses.Values.Any(r => r.Content.ContainsKey("text/event-stream")))
                item.Remove(method);
}

static string[] FormFieldsAsParameters(OpenApiDocument document)
{
    var formTypes = new List<string>();
    foreach (var operation in document.Operations.Select(o => o.Operation))
    {
        if (operation.RequestBody?.Content.TryGetValue("multipart/form-data", out var form) != true) continue;
        var schema = form!.Schema.ActualSchema;
        formTypes.AddRange(document.Definitions.Where(d => d.Value == schema).Select(d => d.Key));
        operation.RequestBody = null;
        foreach (var body in operation.Parameters.Where(p => p.Kind == OpenApiParameterKind.Body).ToList())
            operation.Parameters.Remove(body);
        var position = operation.Parameters.Count;
        foreach (var (name, property) in schema.ActualProperties)
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = name,
                Kind = OpenApiParameterKind.FormData,
                Schema = property,
                Description = property.Description,
                IsRequired = schema.RequiredProperties.Contains(name),
                Position = position++,
            });
    }
    return [.. formTypes];
}

/// <summary>NSwag's C# client generator, with optional file parameters typed as nullable.</summary>
sealed class ClientGenerator(OpenApiDocument document, CSharpClientGeneratorSettings settings) : CSharpClientGenerator(document, settings)
{
    protected override CSharpOperationModel CreateOperationModel(OpenApiOperation operation, ClientGeneratorBaseSettings settings) =>
        new Operation(operation, (CSharpGeneratorBaseSettings)settings, this, (CSharpTypeResolver)Resolver);

    sealed class Operation(OpenApiOperation operation, CSharpGeneratorBaseSettings settings, CSharpGeneratorBase generator, CSharpTypeResolver resolver)
        : CSharpOperationModel(operation, settings, generator, resolver)
    {
        // NSwag types every file parameter as FileParameter, so an optional one defaults to null without `?`.
        protected override string ResolveParameterType(OpenApiParameter parameter)
        {
            var type = base.ResolveParameterType(parameter);
            return type == "FileParameter" && !parameter.IsRequired ? type + "?" : type;
        }
    }
}

static class Naming
{
    public static string[] Words(string name) => name.Split(['_', '-', '.', ' '], StringSplitOptions.RemoveEmptyEntries);

    public static string Capitalized(string word) => char.ToUpperInvariant(word[0]) + word[1..];
}

/// <summary>queue_position → QueuePosition.</summary>
sealed class PascalCasePropertyNames : IPropertyNameGenerator
{
    readonly CSharpPropertyNameGenerator fallback = new();

    public string Generate(JsonSchemaProperty property)
    {
        var words = Naming.Words(property.Name);
        return words.Length > 0 && char.IsLetter(words[0][0]) ? string.Concat(words.Select(Naming.Capitalized)) : fallback.Generate(property);
    }
}

/// <summary>encode_prompt → EncodePrompt.</summary>
sealed class PascalCaseEnumNames : IEnumNameGenerator
{
    readonly DefaultEnumNameGenerator fallback = new();

    public string Generate(int index, string? name, object? value, JsonSchema schema)
    {
        var words = Naming.Words(name ?? "");
        return words.Length > 0 && char.IsLetter(words[0][0]) ? string.Concat(words.Select(Naming.Capitalized)) : fallback.Generate(index, name, value, schema);
    }
}

/// <summary>source_image → sourceImage.</summary>
sealed class CamelCaseParameterNames : IParameterNameGenerator
{
    readonly DefaultParameterNameGenerator fallback = new();

    public string Generate(OpenApiParameter parameter, IEnumerable<OpenApiParameter> allParameters)
    {
        var words = Naming.Words(parameter.Name);
        if (words.Length == 0 || !char.IsLetter(words[0][0])) return fallback.Generate(parameter, allParameters);
        var name = char.ToLowerInvariant(words[0][0]) + words[0][1..] + string.Concat(words.Skip(1).Select(Naming.Capitalized));
        return allParameters.Count(p => p.Name == parameter.Name) > 1 ? name + parameter.Kind : name;
    }
}

/// <summary>
/// Client names for schemas named like ASP.NET Core's problem types (Microsoft.AspNetCore.Mvc.ProblemDetails,
/// Microsoft.AspNetCore.Http.HttpValidationProblemDetails, Microsoft.AspNetCore.Mvc.ValidationProblemDetails);
/// every other schema keeps the document's name.
/// </summary>
sealed class ClientTypeNames : DefaultTypeNameGenerator
{
    static readonly Dictionary<string, string> Renamed = new()
    {
        ["ProblemDetails"] = "ApiProblem",
        ["HttpValidationProblemDetails"] = "ValidationProblem",
        ["ValidationProblemDetails"] = "ValidationProblem",
    };

    protected override string Generate(JsonSchema schema, string? typeNameHint) =>
        base.Generate(schema, typeNameHint is not null && Renamed.TryGetValue(typeNameHint, out var name) ? name : typeNameHint);
}
