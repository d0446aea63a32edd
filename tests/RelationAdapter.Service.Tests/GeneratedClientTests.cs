using RelationAdapter.Client;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;

namespace RelationAdapter.Service.Tests;

/// <summary>The NSwag-generated client, used as a caller would: submit, poll, download; and its typed errors.</summary>
[Trait("Category", "Service")]
public class GeneratedClientTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    static FileParameter File(byte[] bytes, string name) => new(new MemoryStream(bytes), name, "image/png");

    [Fact]
    public async Task Submit_poll_and_download_an_edit()
    {
        var client = new RelationAdapterClient(await factory.ReadyClientAsync());

        var job = await client.CreateEditAsync(
            prompt_image: File(Api.Before, "before.png"), reference_image: File(Api.After, "after.png"),
            source_image: File(Api.Source, "source.png"), prompt: "make it look like the example", steps: 2, seed: 5);
        Assert.Contains(job.Status, new[] { JobStatus.Queued, JobStatus.Running });
        Assert.Equal(5, job.Seed);

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (job.Status is JobStatus.Queued or JobStatus.Running && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
            job = await client.GetEditAsync(job.Id);
        }
        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Equal(job.Progress.Total, job.Progress.Step);

        using var result = await client.GetEditResultAsync(job.Id);
        Assert.Equal(200, result.StatusCode);
        using var image = await Image.LoadAsync(result.Stream);
        Assert.Equal((job.Width, job.Height), (image.Width, image.Height));

        var relation = await client.CreateRelationAsync(File(Api.Before, "before.png"), File(Api.After, "after.png"));
        Assert.Equal(job.Relation_id, relation.Id);
    }

    [Fact]
    public async Task Problems_arrive_as_typed_exceptions()
    {
        var client = new RelationAdapterClient(await factory.ReadyClientAsync());
        var missing = await Assert.ThrowsAsync<ApiException<ProblemDetails>>(() => client.GetEditAsync("ed_missing"));
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:edit-not-found", missing.Result.Type);
    }
}
