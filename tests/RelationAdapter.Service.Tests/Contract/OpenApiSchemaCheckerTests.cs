using System.Text.Json;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Contract;

/// <summary>The contract test's checker finds the mismatches it is there to find.</summary>
[Trait("Category", "Unit")]
public class OpenApiSchemaCheckerTests
{
    static readonly JsonDocument Document = JsonDocument.Parse(File.ReadAllText(Repository.File("openapi", "relation-adapter.v1.json")));

    static List<string> CheckAgainst(string schemaName, string json)
    {
        var schema = JsonDocument.Parse($$"""{"$ref": "#/components/schemas/{{schemaName}}"}""").RootElement;
        return new OpenApiSchemaChecker(Document.RootElement).Check(JsonDocument.Parse(json).RootElement, schema);
    }

    [Fact]
    public void A_wrong_type_a_missing_required_property_an_unknown_enum_value_and_an_unexpected_null_are_reported()
    {
        Assert.Contains(CheckAgainst("ProgressView", """{"step": "1", "total": 3}"""), e => e.Contains("$.step") && e.Contains("integer"));
        Assert.Contains(CheckAgainst("ProgressView", """{"step": 1}"""), e => e.Contains("'total' is missing"));
        Assert.Contains(CheckAgainst("EditPage", """{"items": [], "next_cursor": null, "extra": 1}"""), e => e.Contains("'extra'"));
        Assert.Contains(CheckAgainst("RelationView", """{"id": null, "token_count": 1, "token_dim": 1, "bytes": 4, "created_at": "2026-01-01T00:00:00Z"}"""),
            e => e.Contains("$.id") && e.Contains("not nullable"));
        Assert.NotEmpty(CheckAgainst("JobStatus", "\"paused\""));
        Assert.Contains(CheckAgainst("EditEvent", """{"event": "reconnect", "id": "3", "data": {"type": "x", "retry_ms": 1}}"""), e => e.Contains("fits none of oneOf"));
    }

    [Fact]
    public void A_conforming_value_passes()
    {
        Assert.Empty(CheckAgainst("EditPage", """{"items": [], "next_cursor": null}"""));
        Assert.Empty(CheckAgainst("ProgressView", """{"step": 1, "total": 3}"""));
        Assert.Empty(CheckAgainst("EditEvent", """{"event": "reconnect", "retry": 2000, "data": {"type": "x", "retry_ms": 2000}}"""));
    }
}
