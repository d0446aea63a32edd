using System.Net;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Relations;

[Trait("Category", "Service")]
public class RelationsTests
{
    static async Task<byte[]> SyncEditAsync(HttpClient client, MultipartFormDataContent form)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = form };
        request.Headers.Add("Prefer", "wait=60");
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    [Fact]
    public async Task A_cached_pair_is_reused_by_id_and_by_upload_with_the_same_image_as_uploading_it()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var before = Api.Png(64, 48, 5);
        var after = Api.Png(64, 48, 200);
        var fields = new Dictionary<string, string?> { ["seed"] = "11" };

        var created = await client.PostAsync("/v1/relations", Api.PairForm(before, after));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var relation = await created.JsonAsync();
        var id = relation.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/relations/{id}", created.Headers.Location!.ToString());
        Assert.True(relation.GetProperty("token_count").GetInt64() > 0);

        var again = await client.PostAsync("/v1/relations", Api.PairForm(before, after));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(id, (await again.JsonAsync()).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/relations/{id}")).StatusCode);

        var hits = await Api.MetricAsync(client, "ra_relation_cache_hits_total");
        var byId = await SyncEditAsync(client, Api.EditForm(new Dictionary<string, string?>(fields) { ["relation_id"] = id }, source: Api.Source, withPair: false));
        Assert.Equal(hits + 1, await Api.MetricAsync(client, "ra_relation_cache_hits_total"));
        var byUpload = await SyncEditAsync(client, Api.EditForm(fields, before: before, after: after));
        Assert.Equal(hits + 2, await Api.MetricAsync(client, "ra_relation_cache_hits_total"));
        Assert.Equal(byId, byUpload);

        // The same edit in a fresh service, where the pair has to be encoded, gives the same image.
        await using var fresh = new ServiceFactory();
        var freshClient = await fresh.ReadyClientAsync();
        var misses = await Api.MetricAsync(freshClient, "ra_relation_cache_misses_total");
        var encoded = await SyncEditAsync(freshClient, Api.EditForm(fields, before: before, after: after));
        Assert.Equal(misses + 1, await Api.MetricAsync(freshClient, "ra_relation_cache_misses_total"));
        Assert.Equal(byId, encoded);
    }

    [Fact]
    public async Task A_different_pair_gets_a_different_id()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var first = await (await client.PostAsync("/v1/relations", Api.PairForm(Api.Png(32, 32, 1), Api.Png(32, 32, 2)))).JsonAsync();
        var swapped = await (await client.PostAsync("/v1/relations", Api.PairForm(Api.Png(32, 32, 2), Api.Png(32, 32, 1)))).JsonAsync();
        Assert.NotEqual(first.GetProperty("id").GetString(), swapped.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Missing_images_are_listed()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var form = new MultipartFormDataContent();
        Api.AddFile(form, "prompt_image", Api.Png(32, 32));
        var response = await client.PostAsync("/v1/relations", form);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("reference_image", out _));
    }
}
