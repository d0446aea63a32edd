using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Eval.Tests.Support;

/// <summary>What the stand-in received: the model, the text part, the decoded image part and when.</summary>
public sealed record JudgeRequest(int Index, DateTimeOffset At, string Model, string Prompt, string ImageMediaType, Image<Rgb24> Image, string? Authorization);

/// <summary>
/// A local server speaking the chat-completions protocol on Kestrel (no vision model runs here): each request is
/// parsed like a real endpoint would and answered by the test's script.
/// </summary>
public sealed class StandInJudge : IAsyncDisposable
{
    readonly WebApplication _app;
    public ConcurrentQueue<JudgeRequest> Requests { get; } = new();
    public Uri Endpoint { get; private set; } = null!;

    StandInJudge(Func<JudgeRequest, HttpContext, Task> respond)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        var count = 0;
        _app.MapPost("/v1/chat/completions", async context =>
        {
            var body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync())!;
            var parts = body["messages"]![0]!["content"]!.AsArray();
            var prompt = parts.Single(p => p!["type"]!.GetValue<string>() == "text")!["text"]!.GetValue<string>();
            var url = parts.Single(p => p!["type"]!.GetValue<string>() == "image_url")!["image_url"]!["url"]!.GetValue<string>();
            var comma = url.IndexOf(',');
            var mediaType = url[5..url.IndexOf(';')];
            var request = new JudgeRequest(Interlocked.Increment(ref count) - 1, DateTimeOffset.UtcNow, body["model"]!.GetValue<string>(), prompt, mediaType,
                ImageCodec.Decode(Convert.FromBase64String(url[(comma + 1)..])), context.Request.Headers.Authorization.ToString());
            Requests.Enqueue(request);
            await respond(request, context);
        });
    }

    public static async Task<StandInJudge> StartAsync(Func<JudgeRequest, HttpContext, Task> respond)
    {
        var judge = new StandInJudge(respond);
        await judge._app.StartAsync();
        var address = judge._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        judge.Endpoint = new Uri(address.TrimEnd('/') + "/v1");
        return judge;
    }

    /// <summary>A chat.completion with <paramref name="content"/> as the assistant's message and a token usage.</summary>
    public static Task AnswerAsync(HttpContext context, string content) =>
        context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["id"] = "chatcmpl-standin", ["object"] = "chat.completion", ["created"] = 0, ["model"] = "stand-in",
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0, ["finish_reason"] = "stop",
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = content },
            }),
            ["usage"] = new JsonObject { ["prompt_tokens"] = 1000, ["completion_tokens"] = 30, ["total_tokens"] = 1030 },
        });

    public static string Scores(double c1, double a1, double c2, double a2) =>
        $$"""{ "B1": {"consistency": {{c1}}, "accuracy": {{a1}}}, "B2": {"consistency": {{c2}}, "accuracy": {{a2}}} }""";

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var request in Requests) request.Image.Dispose();
    }
}
