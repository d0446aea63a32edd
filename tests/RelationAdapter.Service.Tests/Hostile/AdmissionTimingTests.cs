using System.Diagnostics;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Hostile;

/// <summary>
/// Tests timed by the clock run alone, after the parallel collections, so that other tests' processes (service
/// replicas, redis-server, browsers) do not share the 2 cores while they are timed.
/// </summary>
[CollectionDefinition(nameof(Timed), DisableParallelization = true)]
public class Timed;

/// <summary>Admission measured by the clock.</summary>
[Collection(nameof(Timed))]
[Trait("Category", "Service")]
public class AdmissionTimingTests
{
    [Fact]
    public async Task A_full_queue_answers_503_before_the_body_is_uploaded()
    {
        await using var service = await KestrelService.StartAsync(new() { ["Queue:Capacity"] = "1" });
        var running = await Api.BusyWorkerAsync(service.Client);
        await Api.SubmitAsync(service.Client, Api.EditForm());

        // A 40 MB upload announced but never sent: the answer must not wait for it.
        var clock = Stopwatch.StartNew();
        var response = await RawHttp.SendAsync(service.Address,
            "POST /v1/edits HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 41943040",
            "--b\r\n"u8.ToArray(), timeout: TimeSpan.FromSeconds(5));
        Assert.Equal(503, response.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"answered after {clock.ElapsedMilliseconds} ms");
        Assert.Contains("queue-full", response.Body);
        await service.Client.DeleteAsync($"/v1/edits/{running}");
    }
}
