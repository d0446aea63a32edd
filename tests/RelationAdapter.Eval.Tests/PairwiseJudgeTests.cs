using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Eval.Judging;
using RelationAdapter.Eval.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Eval.Tests;

/// <summary>The judge over real HTTP against a local chat-completions stand-in, through the official OpenAI library.</summary>
[Trait("Category", "Eval")]
public sealed class PairwiseJudgeTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ra-judge-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    static readonly Rgb24[] Colours = [new(255, 0, 0), new(0, 255, 0), new(0, 0, 255), new(255, 255, 0), new(0, 255, 255)];

    /// <summary>A composite of five solid pictures (A, A1, B, B1, B2 in <see cref="Colours"/>' order).</summary>
    static byte[] Composite(bool swapped = false, int salt = 0)
    {
        var images = Colours.Select(c => new Image<Rgb24>(40, 30, new Rgb24(c.R, c.G, (byte)Math.Max(c.B - salt, 0)))).ToList();
        try
        {
            using var composite = swapped
                ? CompositeImage.Compose(images[0], images[1], images[2], images[4], images[3], cellSide: 64)
                : CompositeImage.Compose(images[0], images[1], images[2], images[3], images[4], cellSide: 64);
            return ImageCodec.Encode(composite, OutputFormat.Png);
        }
        finally
        {
            foreach (var image in images) image.Dispose();
        }
    }

    JudgeOptions Options(StandInJudge server, int attempts = 3, double timeoutSeconds = 10) =>
        new(server.Endpoint, "judge-model", "test-key", Path.Combine(_root, "cache"), attempts, TimeSpan.FromSeconds(timeoutSeconds), TimeSpan.FromMilliseconds(50));

    [Fact]
    public async Task The_request_carries_the_composite_and_the_papers_prompt_and_a_rerun_is_served_from_the_cache()
    {
        await using var server = await StandInJudge.StartAsync((_, context) => StandInJudge.AnswerAsync(context, "```json\n" + StandInJudge.Scores(4, 3, 2, 5) + "\n```"));
        var judge = new PairwiseJudge(Options(server));

        var outcome = await judge.JudgeAsync(Composite(), CancellationToken.None);

        Assert.Equal(new JudgeScores(4, 3), outcome.Answer!.B1);
        Assert.Equal(new JudgeScores(2, 5), outcome.Answer.B2);
        var request = Assert.Single(server.Requests);
        Assert.Equal("judge-model", request.Model);
        Assert.Equal("Bearer test-key", request.Authorization);
        Assert.Equal("image/png", request.ImageMediaType);
        Assert.StartsWith("You are given a composite image with two columns.", request.Prompt);
        Assert.Contains("Edit Consistency (1–5)", request.Prompt);
        Assert.Contains("Be critical. Reserve scores of 4–5 for highly consistent/accurate edits.", request.Prompt);
        Assert.EndsWith("""{ "B1": {"consistency":<1-5>, "accuracy":<1-5>}, "B2": {"consistency":<1-5>, "accuracy":<1-5>} }""", request.Prompt);
        Assert.Equal(JudgePrompt.Text, request.Prompt);
        // Left column A, A1, B from the top; right column B1, B2 centred vertically.
        Assert.Equal((128, 3 * 48), (request.Image.Width, request.Image.Height));
        Assert.Equal(Colours[0], request.Image[32, 24]);
        Assert.Equal(Colours[1], request.Image[32, 48 + 24]);
        Assert.Equal(Colours[2], request.Image[32, 96 + 24]);
        Assert.Equal(Colours[3], request.Image[96, 24 + 24]);
        Assert.Equal(Colours[4], request.Image[96, 24 + 48 + 24]);
        Assert.Equal(new Rgb24(255, 255, 255), request.Image[96, 4]);
        // Each image's name in its top-left corner, as the prompt refers to them: A's apex, B1's top bar.
        Assert.Equal(new Rgb24(0, 0, 0), request.Image[2, 1]);
        Assert.Equal(Colours[0], request.Image[2, 12]);
        Assert.Equal(new Rgb24(0, 0, 0), request.Image[64 + 1, 24 + 1]);
        Assert.Equal(new Rgb24(0, 0, 0), request.Image[64 + 1 + 6 + 2, 24 + 1]); // the "1" of B1

        var again = await new PairwiseJudge(Options(server)).JudgeAsync(Composite(), CancellationToken.None);
        Assert.True(again.FromCache);
        Assert.Equal(outcome.Answer, again.Answer);
        Assert.Single(server.Requests);
        Assert.Contains("1 request(s), 1000 input + 30 output tokens", judge.Usage);
    }

    [Fact]
    public async Task Malformed_answers_and_refusals_are_retried_then_recorded_as_missing()
    {
        await using var server = await StandInJudge.StartAsync((request, context) => StandInJudge.AnswerAsync(context, request.Index switch
        {
            0 => "B1 looks better to me.",
            1 => """{ "B1": {"consistency": 9, "accuracy": 3}, "B2": {"consistency": 2, "accuracy": 2} }""",
            2 => StandInJudge.Scores(3, 3, 2, 2),
            _ => "I cannot help with that.",
        }));
        var judge = new PairwiseJudge(Options(server));

        var recovered = await judge.JudgeAsync(Composite(), CancellationToken.None);
        Assert.Equal(3, recovered.Attempts);
        Assert.Equal(new JudgeScores(3, 3), recovered.Answer!.B1);

        var missing = await judge.JudgeAsync(Composite(salt: 1), CancellationToken.None);
        Assert.Null(missing.Answer);
        Assert.Contains("malformed answer", missing.Failure);
        Assert.Contains("after 3 attempt(s)", missing.Failure);
        Assert.Equal(6, server.Requests.Count);
        Assert.Single(Directory.GetFiles(Path.Combine(_root, "cache")));
    }

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After_and_5xx_are_retried()
    {
        await using var server = await StandInJudge.StartAsync(async (request, context) =>
        {
            if (request.Index == 0)
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "1";
                await context.Response.WriteAsJsonAsync(new { error = new { message = "slow down", type = "rate_limit" } });
            }
            else if (request.Index == 1) context.Response.StatusCode = 503;
            else await StandInJudge.AnswerAsync(context, StandInJudge.Scores(5, 4, 3, 2));
        });
        var judge = new PairwiseJudge(Options(server));

        var outcome = await judge.JudgeAsync(Composite(), CancellationToken.None);

        Assert.NotNull(outcome.Answer);
        Assert.Equal(3, outcome.Attempts);
        var times = server.Requests.Select(r => r.At).ToArray();
        Assert.True(times[1] - times[0] >= TimeSpan.FromSeconds(0.9), $"retried {(times[1] - times[0]).TotalSeconds:F2} s after a 429 with Retry-After: 1");
        Assert.True(times[2] - times[1] < TimeSpan.FromSeconds(0.9), "a 503 waits the short retry delay, not the 429's");
    }

    [Fact]
    public async Task Timeouts_are_retried_and_a_judge_that_never_answers_in_time_is_recorded_as_missing()
    {
        var slow = true;
        await using var server = await StandInJudge.StartAsync(async (request, context) =>
        {
            if (slow || request.Index == 0) await Task.Delay(TimeSpan.FromSeconds(3), context.RequestAborted).ContinueWith(_ => { });
            if (!context.RequestAborted.IsCancellationRequested) await StandInJudge.AnswerAsync(context, StandInJudge.Scores(2, 2, 4, 4));
        });
        var clock = Stopwatch.StartNew();
        var missing = await new PairwiseJudge(Options(server, attempts: 2, timeoutSeconds: 0.5)).JudgeAsync(Composite(), CancellationToken.None);
        Assert.Null(missing.Answer);
        Assert.Contains("timeout", missing.Failure);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"two 0.5 s timeouts took {clock.Elapsed.TotalSeconds:F1} s (answers come after 3 s each)");

        slow = false;
        var recovered = await new PairwiseJudge(Options(server, attempts: 2, timeoutSeconds: 0.5)).JudgeAsync(Composite(salt: 2), CancellationToken.None);
        Assert.Equal(new JudgeScores(2, 2), recovered.Answer!.B1);
    }
}
