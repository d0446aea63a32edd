using System.Security.Cryptography;
using RelationAdapter.Client;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;
using RelationAdapter.TestKit;

namespace RelationAdapter.Service.Tests;

/// <summary>The generated C# client (src/RelationAdapter.Client), used as a caller would: submit, poll, download; and its typed errors.</summary>
[Trait("Category", "Service")]
public class GeneratedClientTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    const string ProblemPrefix = "urn:relation-adapter:problem:";

    /// <summary>The largest seed the service takes: 2^53 - 1, the largest integer every JSON client holds exactly.</summary>
    const long LargestSeed = 9007199254740991;

    static FileParameter Photo(byte[] bytes, string name) => new(new MemoryStream(bytes), name, "image/png");

    async Task<RelationAdapterClient> ClientAsync() => new(await factory.ReadyClientAsync());

    static async Task<EditView> WaitUntilFinishedAsync(RelationAdapterClient client, EditView job)
    {
        await Poll.UntilAsync(async () => (job = await client.GetEditAsync(job.Id)).Status is not (JobStatus.Queued or JobStatus.Running),
            $"edit {job.Id} never finished", seconds: 60);
        return job;
    }

    [Fact]
    public async Task Submit_poll_and_download_an_edit()
    {
        var client = await ClientAsync();

        var job = await client.CreateEditAsync([Photo(Api.Source, "source.png")], "make it look like the example",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 2, seed: 5);
        Assert.Contains(job.Status, new[] { JobStatus.Queued, JobStatus.Running });
        Assert.Equal(5, job.Seed);
        Assert.Equal(OutputFormat.Png, job.OutputFormat);

        job = await WaitUntilFinishedAsync(client, job);
        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Equal(job.Progress.Total, job.Progress.Step);
        Assert.Null(job.QueuePosition);

        using var result = await client.GetEditResultAsync(job.Id);
        Assert.Equal(200, result.StatusCode);
        using var image = await Image.LoadAsync(result.Stream);
        Assert.Equal((job.Width, job.Height), (image.Width, image.Height));

        // The same pair encodes to the relation the edit used, and an edit can name it instead of uploading the pair.
        var relation = await client.CreateRelationAsync(Photo(Api.Before, "before.png"), Photo(Api.After, "after.png"));
        Assert.Equal(job.RelationId, relation.Id);
        var byRelation = await client.CreateEditAsync([Photo(Api.Source, "source.png")], "again", relationId: relation.Id, steps: 1);
        Assert.Equal(relation.Id, byRelation.RelationId);
        Assert.Equal(JobStatus.Succeeded, (await WaitUntilFinishedAsync(client, byRelation)).Status);
    }

    [Fact]
    public async Task The_job_round_trips_its_seed_exactly()
    {
        var client = await ClientAsync();

        var job = await client.CreateEditAsync([Photo(Api.Source, "source.png")], "make it look like the example",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 1, seed: LargestSeed);
        Assert.Equal(LargestSeed, job.Seed);
        job = await WaitUntilFinishedAsync(client, job);
        Assert.Equal(LargestSeed, job.Seed);

        using var result = await client.GetEditResultAsync(job.Id);
        Assert.Equal(LargestSeed.ToString(), Assert.Single(result.Headers["X-Seed"]));
    }

    [Fact]
    public async Task An_unknown_edit_arrives_as_a_typed_404_problem()
    {
        var client = await ClientAsync();
        var missing = await Assert.ThrowsAsync<ApiException<ApiProblem>>(() => client.GetEditAsync("ed_missing"));
        Assert.Equal(404, missing.StatusCode);
        Assert.Equal(ProblemPrefix + "edit-not-found", missing.Result.Type);
        Assert.Equal(404, missing.Result.Status);
    }

    [Fact]
    public async Task A_rejected_form_arrives_as_a_validation_problem_with_typed_errors()
    {
        var client = await ClientAsync();
        var rejected = await Assert.ThrowsAsync<ApiException<ValidationProblem>>(() => client.CreateEditAsync([Photo(Api.Source, "source.png")], "edit",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 0, seed: LargestSeed + 1));

        Assert.Equal(400, rejected.StatusCode);
        Assert.Equal(ProblemPrefix + "validation", rejected.Result.Type);
        IReadOnlyDictionary<string, IReadOnlyList<string>> errors = rejected.Result.Errors!;
        Assert.Equal(["seed", "steps"], errors.Keys.Order());
        Assert.Equal("must be between 1 and 50.", Assert.Single(errors["steps"]));
        Assert.Contains("9007199254740991", Assert.Single(errors["seed"]));
    }

    [Fact]
    public async Task A_result_that_is_not_ready_arrives_as_a_typed_409_problem()
    {
        var client = await ClientAsync();
        // Many steps on a large source keep the job queued or running while the test asks for its result.
        var job = await client.CreateEditAsync([Photo(Api.Png(512, 512), "source.png")], "slow",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 50, maxSide: 512);

        var notReady = await Assert.ThrowsAsync<ApiException<ApiProblem>>(() => client.GetEditResultAsync(job.Id));
        Assert.Equal(409, notReady.StatusCode);
        Assert.Equal(ProblemPrefix + "result-not-available", notReady.Result.Type);

        var canceled = await client.CancelEditAsync(job.Id);
        Assert.Contains(canceled.Status, new[] { JobStatus.Canceled, JobStatus.Running });
        Assert.Equal(JobStatus.Canceled, (await WaitUntilFinishedAsync(client, canceled)).Status);
        var again = await Assert.ThrowsAsync<ApiException<ApiProblem>>(() => client.CancelEditAsync(job.Id));
        Assert.Equal(409, again.StatusCode);
        Assert.Equal(ProblemPrefix + "already-finished", again.Result.Type);
    }

    [Fact]
    public async Task An_oversized_upload_arrives_as_a_typed_413_problem()
    {
        await using var limited = new ServiceFactory { Settings = { ["Limits:MaxFileBytes"] = "20000" } };
        var client = new RelationAdapterClient(await limited.ReadyClientAsync());

        var tooLarge = await Assert.ThrowsAsync<ApiException<ApiProblem>>(() =>
            client.CreateRelationAsync(Photo(Api.Png(200, 200), "before.png"), Photo(Api.After, "after.png")));
        Assert.Equal(413, tooLarge.StatusCode);
        Assert.Equal(ProblemPrefix + "request-too-large", tooLarge.Result.Type);
    }

    [Fact]
    public async Task A_full_queue_arrives_as_a_typed_503_problem()
    {
        await using var limited = new ServiceFactory { Settings = { ["Queue:Capacity"] = "1" } };
        var client = new RelationAdapterClient(await limited.ReadyClientAsync());

        // One slow job running (many steps on a large source), one waiting: a queue of one has no place for a third.
        var running = await client.CreateEditAsync([Photo(Api.Png(512, 512), "source.png")], "slow",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 50, maxSide: 512);
        await Poll.UntilAsync(async () => (await client.GetEditAsync(running.Id)).Status != JobStatus.Queued, "the slow job never left the queue");
        var waiting = await client.CreateEditAsync([Photo(Api.Source, "source.png")], "wait",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 1);
        var full = await Assert.ThrowsAsync<ApiException<ApiProblem>>(() => client.CreateEditAsync([Photo(Api.Source, "source.png")], "no room",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 1));
        Assert.Equal(503, full.StatusCode);
        Assert.Equal(ProblemPrefix + "queue-full", full.Result.Type);
        Assert.True(full.Headers.ContainsKey("Retry-After"));

        await client.CancelEditAsync(waiting.Id);
        await client.CancelEditAsync(running.Id);
    }

    [Fact]
    public async Task Events_follow_an_edit_from_its_status_to_its_end()
    {
        var http = await factory.ReadyClientAsync();
        var client = new RelationAdapterClient(http);
        // The worker is busy, so the job is still queued when the stream starts and every change is seen live.
        var busy = await Api.BusyWorkerAsync(http);
        var job = await client.CreateEditAsync([Photo(Api.Source, "source.png")], "make it look like the example",
            promptImage: Photo(Api.Before, "before.png"), referenceImage: Photo(Api.After, "after.png"), steps: 3);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new List<System.Net.ServerSentEvents.SseItem<EditView>>();
        var reading = Task.Run(async () =>
        {
            await foreach (var item in client.GetEditEventsAsync(job.Id, timeout.Token)) lock (events) events.Add(item);
        });
        await Poll.UntilAsync(() => { lock (events) return events.Count > 0; }, "the event stream sent nothing");
        await client.CancelEditAsync(busy);
        await reading;

        Assert.Equal("status", events[0].EventType);
        Assert.Equal(job.Id, events[0].Data.Id);
        Assert.Equal("succeeded", events[^1].EventType);
        Assert.Equal(JobStatus.Succeeded, events[^1].Data.Status);
        Assert.Equal(3, events[^1].Data.Progress.Step);

        var missing = await Assert.ThrowsAsync<ApiException<ApiProblem>>(async () =>
        {
            await foreach (var _ in client.GetEditEventsAsync("ed_missing")) { }
        });
        Assert.Equal(ProblemPrefix + "edit-not-found", missing.Result.Type);
    }

    /// <summary>
    /// CI compiles the committed RelationAdapterClient.g.cs as is; its stamp (sha256sum format) says which document
    /// and generator it came from, so a document committed without the regenerated client fails here.
    /// </summary>
    [Fact]
    public void The_committed_client_was_generated_from_the_committed_document()
    {
        var stamp = Repository.File("src", "RelationAdapter.Client", "RelationAdapterClient.g.sha256");
        const string hint = "is stale: build src/RelationAdapter.Client locally (without CI=true) to regenerate the client, then commit it with its stamp.";
        var lines = File.ReadAllLines(stamp).Where(line => line.Length > 0).Select(line => line.Split("  ", 2)).ToList();

        Assert.Equal(
            ["openapi/relation-adapter.v1.client.json", "build/ClientGenerator/Program.cs",
             "build/ClientGenerator/RelationAdapter.ClientGenerator.csproj", "src/RelationAdapter.Client/RelationAdapterClient.g.cs"],
            lines.Select(line => line[1]));
        foreach (var line in lines)
        {
            var actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Repository.File(line[1].Split('/')))));
            Assert.True(actual == line[0], $"{line[1]} changed since the client was generated: {stamp} {hint}");
        }
    }
}
