using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

/// <summary>
/// The limits are stated once (<see cref="LimitsOptions"/>): the OpenAPI document states the configured ones,
/// the form enforces the same, and appsettings.json lists every one with its default.
/// </summary>
[Trait("Category", "Service")]
public class LimitsDocumentationTests
{
    [Fact]
    public void The_committed_document_states_the_default_limits()
    {
        var document = JsonNode.Parse(File.ReadAllText(Repository.File("openapi", "relation-adapter.v1.json")))!;
        AssertStates(document, new LimitsOptions());
    }

    [Fact]
    public async Task Changing_the_limits_changes_the_served_document_and_what_the_form_accepts()
    {
        var configured = new LimitsOptions
        {
            MaxSteps = 12, MaxSideCap = 768, DefaultMaxSide = 256, MaxSourcesPerEdit = 2, MaxPromptLength = 300,
            MaxFileBytes = 300_000, MaxRequestBytes = 900_000, MaxPixels = 1_000_000,
        };
        Assert.NotEqual(new LimitsOptions().MaxSteps, configured.MaxSteps);
        await using var factory = new ServiceFactory
        {
            Settings = typeof(LimitsOptions).GetProperties().Where(property => property.CanWrite)
                .ToDictionary(property => $"{LimitsOptions.Section}:{property.Name}", property => Convert.ToString(property.GetValue(configured), CultureInfo.InvariantCulture)),
        };
        var client = await factory.ReadyClientAsync(); // an edit sent while the model loads is answered 503

        AssertStates(JsonNode.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"))!, configured);

        // The steps (default 24) fall to MaxSteps when it is lower; one more step than the maximum is refused with the same bound.
        Assert.Equal(configured.MaxSteps, configured.Steps.Default);
        var refused = await client.PostAsync("/v1/edits", Api.EditForm(new Dictionary<string, string?> { ["steps"] = (configured.MaxSteps + 1).ToString(CultureInfo.InvariantCulture) }));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal($"must be between {configured.Steps.Min} and {configured.Steps.Max}.",
            (await refused.JsonAsync()).GetProperty("errors").GetProperty("steps")[0].GetString());
    }

    [Fact]
    public void Appsettings_lists_every_limit_with_its_default()
    {
        var section = JsonNode.Parse(File.ReadAllText(Repository.File("appsettings.json")))![LimitsOptions.Section]!.AsObject();
        var defaults = new LimitsOptions();
        var settable = typeof(LimitsOptions).GetProperties().Where(property => property.CanWrite).ToList();

        Assert.Equal(settable.Select(property => property.Name).Order(), section.Select(entry => entry.Key).Order());
        foreach (var property in settable)
            Assert.True(JsonNode.DeepEquals(JsonSerializer.SerializeToNode(property.GetValue(defaults)), section[property.Name]),
                $"appsettings.json has {LimitsOptions.Section}:{property.Name} = {section[property.Name]}; its default is {property.GetValue(defaults)}.");
    }

    /// <summary>Every bound of the edit and relation forms in the document equals the limits'.</summary>
    static void AssertStates(JsonNode document, LimitsOptions limits)
    {
        var schemas = document["components"]!["schemas"]!;
        var edit = schemas["EditForm"]!["properties"]!;
        AssertRange(edit["steps"]!, limits.Steps);
        AssertRange(edit["guidance"]!, limits.Guidance);
        AssertRange(edit["adapter_scale"]!, limits.AdapterScale);
        AssertRange(edit["seed"]!, limits.Seed);
        AssertRange(edit["max_side"]!, limits.MaxSide);
        AssertRange(edit["cache_threshold"]!, limits.CacheThreshold);
        AssertRange(edit["n"]!, limits.Outputs);
        Assert.Equal(limits.MaxPromptLength, (int)edit["prompt"]!["maxLength"]!);
        Assert.Equal(limits.MaxSourcesPerEdit, (int)edit["source_image"]!["maxItems"]!);

        foreach (var (form, files) in new[] { ("EditForm", new[] { "source_image", "prompt_image", "reference_image" }), ("RelationForm", ["prompt_image", "reference_image"]) })
        {
            Assert.Contains($"at most {limits.MaxRequestBytes} bytes", (string)schemas[form]!["description"]!);
            foreach (var file in files)
            {
                var description = (string)schemas[form]!["properties"]![file]!["description"]!;
                Assert.Contains($"At most {limits.MaxFileBytes} bytes", description);
                Assert.Contains($"{limits.MaxPixels} pixels", description);
            }
        }
    }

    static void AssertRange<T>(JsonNode field, Bounds<T> bounds) where T : struct, INumber<T>
    {
        Assert.Equal(bounds.Min, field["minimum"]!.GetValue<T>());
        Assert.Equal(bounds.Max, field["maximum"]!.GetValue<T>());
        Assert.Equal(bounds.Default, field["default"]?.GetValue<T>());
    }
}
