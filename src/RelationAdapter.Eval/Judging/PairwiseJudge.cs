using System.ClientModel;
using System.ClientModel.Primitives;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace RelationAdapter.Eval.Judging;

/// <param name="Endpoint">An OpenAI-compatible base address (…/v1); the client appends <c>chat/completions</c>.</param>
/// <param name="MaxAttempts">Tries per composite before it is recorded as missing.</param>
/// <param name="RetryDelay">The first wait after a 5xx, a timeout or a malformed answer; doubled on each retry.</param>
/// <param name="MaxRetryAfter">The longest <c>Retry-After</c> honoured (a longer one is cut to this).</param>
public sealed record JudgeOptions(
    Uri Endpoint,
    string Model,
    string ApiKey,
    string CacheDirectory,
    int MaxAttempts = 4,
    TimeSpan? RequestTimeout = null,
    TimeSpan? RetryDelay = null,
    TimeSpan? MaxRetryAfter = null);

/// <summary>Scores out of 5 for one edited image.</summary>
public sealed record JudgeScores(double Consistency, double Accuracy);

/// <summary>A parsed answer with the text it came from.</summary>
public sealed record JudgeAnswer(JudgeScores B1, JudgeScores B2, string Raw);

/// <summary>The answer, or why there is none after every attempt.</summary>
public sealed record JudgeOutcome(JudgeAnswer? Answer, string? Failure, bool FromCache, int Attempts);

/// <summary>
/// Asks a vision chat model to score B1 and B2 in one composite with <see cref="JudgePrompt.Text"/>, through the
/// official OpenAI library. Parsed answers are cached on disk by a hash of image, prompt and model; 429 (after its
/// <c>Retry-After</c>), 5xx, timeouts, refusals and malformed answers are retried up to
/// <see cref="JudgeOptions.MaxAttempts"/> times, then reported as a failure, never thrown.
/// </summary>
public sealed class PairwiseJudge
{
    readonly JudgeOptions _options;
    readonly ChatClient _chat;
    long _requests, _inputTokens, _outputTokens, _cacheHits;

    public PairwiseJudge(JudgeOptions options)
    {
        _options = options;
        Directory.CreateDirectory(options.CacheDirectory);
        _chat = new ChatClient(options.Model, new ApiKeyCredential(options.ApiKey), new OpenAIClientOptions
        {
            Endpoint = options.Endpoint,
            // Retries are ours: bounded, visible, and honouring Retry-After the same way for every status.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = options.RequestTimeout ?? TimeSpan.FromMinutes(2),
        });
    }

    public string Usage =>
        $"judge usage: {_requests} request(s), {_inputTokens} input + {_outputTokens} output tokens = {_inputTokens + _outputTokens}; {_cacheHits} answer(s) from the cache";

    public static string CacheKey(byte[] compositePng, string prompt, string model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(model + "\n" + prompt + "\n"));
        hash.AppendData(compositePng);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public async Task<JudgeOutcome> JudgeAsync(byte[] compositePng, CancellationToken cancellation)
    {
        var cachePath = Path.Combine(_options.CacheDirectory, CacheKey(compositePng, JudgePrompt.Text, _options.Model) + ".json");
        if (File.Exists(cachePath) && Parse(JsonNode.Parse(await File.ReadAllTextAsync(cachePath, cancellation))?["answer"]?.GetValue<string>()) is { } cached)
        {
            Interlocked.Increment(ref _cacheHits);
            return new JudgeOutcome(cached, null, FromCache: true, Attempts: 0);
        }

        var messages = new List<ChatMessage>
        {
            new UserChatMessage(
                ChatMessageContentPart.CreateTextPart(JudgePrompt.Text),
                ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(compositePng), "image/png")),
        };
        var delay = _options.RetryDelay ?? TimeSpan.FromSeconds(1);
        string failure = "no attempt";
        for (var attempt = 1; attempt <= _options.MaxAttempts; attempt++)
        {
            TimeSpan? wait = null;
            try
            {
                Interlocked.Increment(ref _requests);
                ChatCompletion completion = await _chat.CompleteChatAsync(messages, new ChatCompletionOptions { Temperature = 0 }, cancellation);
                Interlocked.Add(ref _inputTokens, completion.Usage?.InputTokenCount ?? 0);
                Interlocked.Add(ref _outputTokens, completion.Usage?.OutputTokenCount ?? 0);
                var text = string.Concat(completion.Content.Where(p => p.Kind == ChatMessageContentPartKind.Text).Select(p => p.Text));
                if (!string.IsNullOrEmpty(completion.Refusal)) failure = $"refusal: {completion.Refusal}";
                else if (Parse(text) is { } answer)
                {
                    await File.WriteAllTextAsync(cachePath, new JsonObject { ["model"] = _options.Model, ["answer"] = text }.ToJsonString(), cancellation);
                    return new JudgeOutcome(answer, null, FromCache: false, attempt);
                }
                else failure = $"malformed answer: {Shorten(text)}";
            }
            catch (ClientResultException e) when (e.Status == 429)
            {
                failure = "429 Too Many Requests";
                wait = RetryAfter(e.GetRawResponse()) ?? delay;
            }
            catch (ClientResultException e) when (e.Status >= 500 || e.Status == 0)
            {
                failure = e.Status == 0 ? $"no response: {e.Message}" : $"{e.Status} from the judge";
            }
            catch (ClientResultException e)
            {
                return new JudgeOutcome(null, $"{e.Status} from the judge: {Shorten(e.Message)}", FromCache: false, attempt);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                failure = "timeout";
            }
            catch (HttpRequestException e)
            {
                failure = $"no response: {e.Message}";
            }

            if (attempt == _options.MaxAttempts) break;
            await Task.Delay(wait ?? delay, cancellation);
            delay *= 2;
        }
        return new JudgeOutcome(null, $"{failure} (after {_options.MaxAttempts} attempt(s))", FromCache: false, _options.MaxAttempts);
    }

    TimeSpan? RetryAfter(PipelineResponse? response)
    {
        if (response is null || !response.Headers.TryGetValue("Retry-After", out var value) || value is null) return null;
        var limit = _options.MaxRetryAfter ?? TimeSpan.FromMinutes(1);
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            return TimeSpan.FromSeconds(Math.Clamp(seconds, 0, limit.TotalSeconds));
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            var until = at - DateTimeOffset.UtcNow;
            return until < TimeSpan.Zero ? TimeSpan.Zero : until > limit ? limit : until;
        }
        return null;
    }

    /// <summary>
    /// The JSON object in the answer (models often wrap it in a code fence or a sentence) with scores 1–5 for
    /// both images; null when there is none.
    /// </summary>
    public static JudgeAnswer? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var start = text.IndexOf('{');
        var end = text.LastIndexOf('}');
        if (start < 0 || end <= start) return null;
        try
        {
            var json = JsonNode.Parse(text[start..(end + 1)]);
            return Scores(json?["B1"]) is { } b1 && Scores(json?["B2"]) is { } b2 ? new JudgeAnswer(b1, b2, text) : null;
        }
        catch (JsonException)
        {
            return null;
        }

        static JudgeScores? Scores(JsonNode? node) =>
            Score(node?["consistency"]) is { } consistency && Score(node?["accuracy"]) is { } accuracy ? new JudgeScores(consistency, accuracy) : null;

        static double? Score(JsonNode? node)
        {
            if (node is not JsonValue value) return null;
            double? number = value.TryGetValue<double>(out var d) ? d
                : value.TryGetValue<string>(out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
            return number is >= 1 and <= 5 ? number : null;
        }
    }

    static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";
}
