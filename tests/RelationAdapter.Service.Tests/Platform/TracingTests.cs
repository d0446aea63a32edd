using System.Collections.Concurrent;
using System.Diagnostics;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Jobs.Telemetry;

namespace RelationAdapter.Service.Tests.Platform;

[Trait("Category", "Service")]
public class TracingTests
{
    [Fact]
    public async Task A_job_span_continues_the_request_trace_with_one_span_per_stage()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ServiceTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() };
        var traceId = ActivityTraceId.CreateRandom();
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        var response = await client.SendAsync(request);
        var id = (await response.JsonAsync()).GetProperty("id").GetString()!;
        await Api.WaitForAsync(client, id, "succeeded");
        // The job's span ends when the worker is done with it, just after its end is stored.
        await Poll.UntilAsync(() => spans.Any(s => s.OperationName == "edit.job" && (string?)s.GetTagItem("edit.id") == id), "the job's span never ended");

        var job = spans.Single(s => s.OperationName == "edit.job" && (string?)s.GetTagItem("edit.id") == id);
        Assert.Equal(traceId, job.TraceId);
        var stages = spans.Where(s => s.ParentSpanId == job.SpanId).Select(s => s.OperationName).ToHashSet();
        foreach (var stage in new[] { "edit.encode_prompt", "edit.encode_relation", "edit.encode_source", "edit.denoise", "edit.decode" })
            Assert.Contains(stage, stages);
    }
}
