using System.Text.Json.Nodes;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

/// <summary>The committed OpenAPI documents are what the service serves (the build exports them; CI does not).</summary>
[Trait("Category", "Service")]
public class OpenApiDocumentTests
{
    [Fact]
    public async Task The_committed_documents_are_current()
    {
        await using var factory = new ServiceFactory();
        var served = await factory.CreateClient().GetStringAsync("/swagger/v1/swagger.json");
        var path = Repository.File("openapi", "relation-adapter.v1.json");
        const string hint = "is stale: build the service (dotnet build) to export it, then commit openapi/ and the regenerated client.";

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(served), JsonNode.Parse(File.ReadAllText(path))), $"{path} {hint}");
        var clientPath = OpenApiExport.ClientVariantPath(path);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(OpenApiExport.ForCodeGenerators(served)), JsonNode.Parse(File.ReadAllText(clientPath))),
            $"{clientPath} {hint}");
    }
}
