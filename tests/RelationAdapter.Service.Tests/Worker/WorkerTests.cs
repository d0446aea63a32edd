using System.Net;
using Microsoft.Extensions.DependencyInjection;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Memory;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Worker;

[Trait("Category", "Service")]
public class WorkerTests
{
    [Fact]
    public async Task A_failing_job_fails_alone_with_its_reason_and_the_worker_goes_on()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var models = factory.Services.GetRequiredService<ModelHost>().Models!;
        models.Models.Vae.Dispose(); // every later edit now fails inside the worker

        var failing = await Api.SubmitAsync(client, Api.EditForm());
        var failed = await Api.WaitForAsync(client, failing, "failed", "succeeded");
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        var error = failed.GetProperty("error");
        Assert.Equal("urn:relation-adapter:problem:edit-failed", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("detail").GetString()));
        var result = await client.GetAsync($"/v1/edits/{failing}/result");
        Assert.Equal(HttpStatusCode.Conflict, result.StatusCode);

        var next = await Api.SubmitAsync(client, Api.EditForm());
        Assert.Equal("failed", (await Api.WaitForAsync(client, next, "failed", "succeeded")).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task Shutdown_cancels_waiting_jobs_at_once_and_a_running_job_past_the_grace_period()
    {
        var factory = new ServiceFactory { Settings = { ["Queue:ShutdownGracePeriod"] = "00:00:00" } };
        var client = await factory.ReadyClientAsync();
        var store = factory.Services.GetRequiredService<JobStore>();
        var running = await Api.BusyWorkerAsync(client);
        var waiting = await Api.SubmitAsync(client, Api.EditForm());

        await factory.DisposeAsync();

        Assert.Equal(JobStatus.Canceled, store.Find(waiting)!.Status);
        Assert.Equal(JobStatus.Canceled, store.Find(running)!.Status);
    }

    [Fact]
    public async Task Shutdown_lets_the_running_job_finish_within_the_grace_period()
    {
        var factory = new ServiceFactory { Settings = { ["Queue:ShutdownGracePeriod"] = "00:01:00" } };
        var client = await factory.ReadyClientAsync();
        var store = factory.Services.GetRequiredService<JobStore>();
        var running = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["steps"] = "20" }, source: Api.Png(256, 256)));
        await Api.WaitForAsync(client, running, "running");
        var waiting = await Api.SubmitAsync(client, Api.EditForm());

        await factory.DisposeAsync();

        Assert.Equal(JobStatus.Succeeded, store.Find(running)!.Status);
        Assert.Equal(JobStatus.Canceled, store.Find(waiting)!.Status);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_text_encoder_takes_is_truncated_with_a_warning_on_the_job()
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        var prompt = string.Join(' ', Enumerable.Repeat("a", 600));
        var id = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["prompt"] = prompt }));
        var done = await Api.WaitForAsync(client, id, "succeeded", "failed");
        var warnings = done.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()).ToList();
        Assert.Contains(warnings, w => w!.Contains("T5") && w.Contains("ignored"));
    }
}
