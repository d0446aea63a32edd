using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.Swagger;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// <c>RelationAdapter.Service --export-openapi &lt;file&gt;</c>: writes the OpenAPI document without
/// starting the server or loading a model (the build runs it; see the project file), and beside it the
/// variant code generators use (<see cref="ForCodeGenerators"/>).
/// </summary>
public static class OpenApiExport
{
    const string Flag = "--export-openapi";

    public static bool Requested(string[] args, out string path)
    {
        var index = Array.IndexOf(args, Flag);
        path = index >= 0 && index + 1 < args.Length ? args[index + 1] : "";
        return index >= 0;
    }

    public static async Task WriteAsync(WebApplication app, string path)
    {
        // Endpoints reach ApiExplorer when routing is wired, which normally happens as the server starts.
        app.UseRouting();
        app.UseEndpoints(_ => { });
        var document = app.Services.GetRequiredService<ISwaggerProvider>().GetSwagger("v1");
        var json = await document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_0);
        await WriteIfChangedAsync(path, json);
        await WriteIfChangedAsync(ClientVariantPath(path), ForCodeGenerators(json));
    }

    public static string ClientVariantPath(string documentPath) => Path.ChangeExtension(documentPath, ".client.json");

    /// <summary>
    /// The document for generated clients: the same, less POST /v1/edits' 200 image response and its
    /// <c>Prefer</c> header, which asks for it (generated clients take the asynchronous path: 202, poll,
    /// download), and which code generators would otherwise take for the operation's result.
    /// </summary>
    public static string ForCodeGenerators(string documentJson)
    {
        var root = JsonNode.Parse(documentJson)!;
        var create = root["paths"]!["/v1/edits"]!["post"]!;
        create["responses"]!.AsObject().Remove("200");
        // Without the 200 there is nothing for Prefer to ask for; a generated argument would only invite it.
        var parameters = create["parameters"]?.AsArray();
        parameters?.Remove(parameters.First(parameter => (string?)parameter!["name"] == "Prefer"));
        if (parameters?.Count == 0) create.AsObject().Remove("parameters");
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    static async Task WriteIfChangedAsync(string path, string json)
    {
        var normalized = json.ReplaceLineEndings("\n").TrimEnd() + "\n";
        if (File.Exists(path) && await File.ReadAllTextAsync(path) == normalized) return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await File.WriteAllTextAsync(path, normalized);
    }
}
