using System.Net;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Service.Tests.Edits;

/// <summary>One exemplar pair applied to several sources in one job: one DiT batch, a seed and a result per source.</summary>
[Trait("Category", "Service")]
public sealed class BatchTests
{
    static readonly byte[] First = Api.Png(96, 64, 40), Second = Api.Png(96, 64, 200), Narrow = Api.Png(64, 96, 90);

    static MultipartFormDataContent Form(long seed, params byte[][] sources)
    {
        var form = Api.EditForm(new Dictionary<string, string?> { ["seed"] = seed.ToString(), ["steps"] = "3" }, source: sources[0]);
        foreach (var more in sources.Skip(1)) Api.AddFile(form, "source_image", more);
        return form;
    }

    internal static int MaxPixelDifference(byte[] a, byte[] b)
    {
        using var left = Image.Load<Rgb24>(a);
        using var right = Image.Load<Rgb24>(b);
        Assert.Equal((left.Width, left.Height), (right.Width, right.Height));
        var worst = 0;
        for (var y = 0; y < left.Height; y++)
        for (var x = 0; x < left.Width; x++)
        {
            var (p, q) = (left[x, y], right[x, y]);
            worst = Math.Max(worst, Math.Max(Math.Abs(p.R - q.R), Math.Max(Math.Abs(p.G - q.G), Math.Abs(p.B - q.B))));
        }
        return worst;
    }

    [Fact]
    public async Task A_batch_of_two_sources_makes_the_images_of_two_single_edits_with_seed_and_seed_plus_one()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var batch = await Api.SubmitAsync(client, Form(100, First, Second));
        var alone = await Api.SubmitAsync(client, Form(100, First));
        var secondAlone = await Api.SubmitAsync(client, Form(101, Second));
        var done = await Api.WaitForAsync(client, batch, "succeeded", "failed");
        Assert.Equal("succeeded", done.GetProperty("status").GetString());
        await Api.WaitForAsync(client, secondAlone, "succeeded");

        Assert.Equal(2, done.GetProperty("source_count").GetInt32());
        Assert.Equal(6, done.GetProperty("progress").GetProperty("total").GetInt32()); // 3 steps for each of 2 sources
        Assert.Equal(6, done.GetProperty("progress").GetProperty("step").GetInt32());
        var results = done.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([100L, 101L], results.Select(r => r.GetProperty("seed").GetInt64()));
        Assert.Equal($"/v1/edits/{batch}/results/1", new Uri(results[1].GetProperty("url").GetString()!).AbsolutePath);

        // The same numbers batched or alone, up to float rounding of a batched matmul.
        Assert.True(MaxPixelDifference(await Api.BytesAsync(client, $"/v1/edits/{batch}/results/0"), await Api.BytesAsync(client, $"/v1/edits/{alone}/result")) <= 1);
        Assert.True(MaxPixelDifference(await Api.BytesAsync(client, $"/v1/edits/{batch}/results/1"), await Api.BytesAsync(client, $"/v1/edits/{secondAlone}/result")) <= 1);
        Assert.Equal(await Api.BytesAsync(client, $"/v1/edits/{batch}/result"), await Api.BytesAsync(client, $"/v1/edits/{batch}/results/0"));
        var second = await client.GetAsync($"/v1/edits/{batch}/results/1");
        Assert.Equal("101", second.Headers.GetValues("X-Seed").Single());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/edits/{batch}/results/2")).StatusCode);
    }

    [Fact]
    public async Task Sources_of_different_sizes_run_in_their_own_batches_and_prefer_wait_answers_the_job()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Form(7, First, Narrow, Second) };
        request.Headers.Add("Prefer", "wait=60");
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var job = await response.JsonAsync();
        Assert.Equal("succeeded", job.GetProperty("status").GetString());
        var sizes = job.GetProperty("results").EnumerateArray().Select(r => (r.GetProperty("width").GetInt32(), r.GetProperty("height").GetInt32())).ToList();
        Assert.Equal([(96, 64), (64, 96), (96, 64)], sizes);
        Assert.Equal(9, job.GetProperty("progress").GetProperty("step").GetInt32());
        var id = job.GetProperty("id").GetString();
        using var narrow = Image.Load<Rgb24>(await Api.BytesAsync(client, $"/v1/edits/{id}/results/1"));
        Assert.Equal((64, 96), (narrow.Width, narrow.Height));
    }

    [Fact]
    public async Task More_sources_than_the_limit_are_refused_naming_the_limit()
    {
        await using var factory = new ServiceFactory { Settings = { ["Limits:MaxSourcesPerEdit"] = "2" } };
        var client = await factory.ReadyClientAsync();
        var refused = await client.PostAsync("/v1/edits", Form(1, First, Second, First));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("Limits:MaxSourcesPerEdit", (await refused.JsonAsync()).GetProperty("errors").GetProperty("source_image")[0].GetString());
    }

    [Fact]
    public async Task A_bad_source_of_a_batch_is_named_by_its_index()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var refused = await client.PostAsync("/v1/edits", Form(1, First, Second, "not an image"u8.ToArray()));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problem = await refused.JsonAsync();
        Assert.Equal(("urn:relation-adapter:problem:invalid-image", "source_image", 2),
            (problem.GetProperty("type").GetString(), problem.GetProperty("field").GetString(), problem.GetProperty("index").GetInt32()));
    }
}
