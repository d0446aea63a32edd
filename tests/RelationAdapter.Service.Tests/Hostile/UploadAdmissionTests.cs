using System.Net;
using System.Net.Sockets;
using System.Text;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.TestKit;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Hostile;

/// <summary>
/// Slow clients against admission: uploads hold upload slots (per process and per key), never queue places, and a
/// body that trickles below the minimum rate is dropped after the grace period.
/// </summary>
[Trait("Category", "Service")]
public class UploadAdmissionTests
{
    /// <summary>An upload announced as <paramref name="length"/> bytes that sends a few bytes a second until the server hangs up.</summary>
    static async Task<string> TrickleAsync(Uri server, string? apiKey, CancellationToken stop, int length = 1_000_000)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, stop);
        var stream = tcp.GetStream();
        var authorization = apiKey is null ? "" : $"Authorization: Bearer {apiKey}\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/edits HTTP/1.1\r\nHost: localhost\r\n{authorization}" +
            $"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {length}\r\n\r\n--b\r\n"), stop);
        var answer = new byte[4096];
        var reading = stream.ReadAsync(answer, stop).AsTask();
        try
        {
            // 300 bytes a second, for at most 30 s: far below any minimum rate.
            for (var second = 0; second < 30 && !reading.IsCompleted; second++)
            {
                await stream.WriteAsync(new byte[300], stop);
                await Task.WhenAny(reading, Task.Delay(1000, stop));
            }
            var read = await reading.WaitAsync(TimeSpan.FromSeconds(5), stop);
            return Encoding.ASCII.GetString(answer, 0, read);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return "dropped: " + e.Message;
        }
    }

    [Fact]
    public async Task Slow_uploads_never_fill_the_queue_and_are_dropped_after_the_grace_period()
    {
        await using var service = await KestrelService.StartAsync(new()
        {
            ["Queue:Capacity"] = "8", ["Limits:UploadGracePeriod"] = "00:00:02", ["Limits:MinUploadBytesPerSecond"] = "16384",
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var trickles = Enumerable.Range(0, 16).Select(_ => TrickleAsync(service.Address, null, stop.Token)).ToList();
        var uploads = service.Service<UploadAdmission>();
        await Poll.UntilAsync(() => uploads.InProgress == 16, "the slow uploads were never admitted");

        // 16 slow uploads against a capacity of 8: normal submissions are taken all the same.
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Accepted, (await service.Client.PostAsync("/v1/edits", Api.EditForm())).StatusCode);

        var answers = await Task.WhenAll(trickles);
        Assert.Equal(0, uploads.InProgress);
        Assert.All(answers, answer => Assert.True(answer.StartsWith("dropped", StringComparison.Ordinal) || answer.Contains(" 408 "), answer));
    }

    [Fact]
    public async Task One_key_cannot_take_every_upload_slot()
    {
        await using var service = await KestrelService.StartAsync(new()
        {
            ["Auth:ApiKeys:0:Name"] = "alice", ["Auth:ApiKeys:0:Key"] = "key-of-alice",
            ["Auth:ApiKeys:1:Name"] = "bob", ["Auth:ApiKeys:1:Key"] = "key-of-bob",
            ["Limits:ConcurrentUploadsPerKey"] = "2", ["Limits:ConcurrentUploads"] = "4", ["Limits:MinUploadBytesPerSecond"] = "0",
        });
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var trickles = Enumerable.Range(0, 2).Select(_ => TrickleAsync(service.Address, "key-of-alice", stop.Token)).ToList();
        await Poll.UntilAsync(() => service.Service<UploadAdmission>().InProgress == 2, "alice's uploads were never admitted");

        using var alice = new HttpClient { BaseAddress = service.Address };
        alice.DefaultRequestHeaders.Authorization = new("Bearer", "key-of-alice");
        var refused = await alice.PostAsync("/v1/edits", Api.EditForm());
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:too-many-uploads", (await refused.JsonAsync()).GetProperty("type").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);

        using var bob = new HttpClient { BaseAddress = service.Address };
        bob.DefaultRequestHeaders.Authorization = new("Bearer", "key-of-bob");
        Assert.Equal(HttpStatusCode.Accepted, (await bob.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        await stop.CancelAsync();
        await Task.WhenAll(trickles.Select(trickle => trickle.ContinueWith(_ => { })));
    }

    [Fact]
    public async Task Retries_of_a_known_idempotency_key_are_never_refused_as_queue_full()
    {
        await using var factory = new ServiceFactory { Settings = { ["Queue:Capacity"] = "1" } };
        var client = await factory.ReadyClientAsync();
        // The largest edit the limits allow keeps the worker busy well past the 30 retries, even on a loaded machine.
        var running = await Api.SubmitAsync(client, Api.EditForm(new Dictionary<string, string?> { ["steps"] = "50", ["max_side"] = "1024" }, source: Api.Png(1024, 1024)));
        await Api.WaitForAsync(client, running, "running");
        HttpRequestMessage Keyed() => new(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm(), Headers = { { "Idempotency-Key", "order-7" } } };
        var original = await client.SendAsync(Keyed());
        Assert.Equal(HttpStatusCode.Accepted, original.StatusCode);
        var id = (await original.JsonAsync()).GetProperty("id").GetString();
        // The queue is full now; 30 concurrent retries of the known request all answer its job.
        var retries = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => client.SendAsync(Keyed())));
        foreach (var retry in retries)
        {
            Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
            Assert.Equal(id, (await retry.JsonAsync()).GetProperty("id").GetString());
        }
        Assert.Equal("queued", (await Api.WaitForAsync(client, id!, "queued", "running", "succeeded")).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.PostAsync("/v1/edits", Api.EditForm())).StatusCode);
        await client.DeleteAsync($"/v1/edits/{running}");
    }
}
