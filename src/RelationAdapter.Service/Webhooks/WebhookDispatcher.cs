using System.Diagnostics.Metrics;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Telemetry;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Webhooks;

/// <summary>
/// Makes the deliveries of the outbox: a few at a time, each attempt signed afresh (the timestamp is the attempt's,
/// so receivers can refuse replays), retried with backoff until a 2xx, a 410, <see cref="WebhooksOptions.MaxAttempts"/>
/// or the end of <see cref="WebhooksOptions.RetryWindow"/>. Every attempt is recorded in the outbox and counted in
/// <c>ra.webhook.attempts</c>. Deliveries are independent: a job's <c>completed</c> may overtake its <c>started</c>
/// while that one waits for a retry, so receivers go by the job's status in the body.
/// </summary>
public sealed class WebhookDispatcher : BackgroundService
{
    public const string HttpClientName = "webhooks";
    public const string UserAgent = "RelationAdapter.Service";
    public const string AttemptsInstrument = "ra.webhook.attempts";

    // Another replica sharing the outbox adds deliveries this one is not woken for; it looks at least this often.
    static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    readonly IWebhookOutbox _outbox;
    readonly IHttpClientFactory _clients;
    readonly WebhooksOptions _options;
    readonly TimeProvider _time;
    readonly ILogger<WebhookDispatcher> _logger;
    readonly WebhookSignature? _signature;
    readonly Counter<long> _attempts;
    readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public WebhookDispatcher(IWebhookOutbox outbox, IHttpClientFactory clients, IOptions<WebhooksOptions> options, TimeProvider time,
        IMeterFactory meters, ILogger<WebhookDispatcher> logger)
    {
        (_outbox, _clients, _options, _time, _logger) = (outbox, clients, options.Value, time, logger);
        _signature = _options.Enabled ? WebhookSignature.FromSecret(_options.Secret!) : null;
        _attempts = meters.Create(ServiceTelemetry.Name).CreateCounter<long>(AttemptsInstrument,
            description: "Webhook delivery attempts, by event and outcome (delivered, retrying, failed, refused).");
    }

    /// <summary>
    /// Adds a delivery to be made as soon as possible; false when the same delivery (job and event) was already
    /// added. Throws while webhooks are off: the request that asked for one should have been refused.
    /// </summary>
    public async ValueTask<bool> EnqueueAsync(WebhookDelivery delivery, CancellationToken cancellation = default)
    {
        if (_signature is null)
            throw new InvalidOperationException("Webhooks are off (Webhooks:Secret is not set); a request naming a webhook must be refused.");
        var added = await _outbox.AddAsync(delivery, _time.GetUtcNow(), cancellation);
        if (added) _wake.Writer.TryWrite(true);
        return added;
    }

    /// <summary>Every attempt made for a job's webhooks, oldest first (for the job view).</summary>
    public ValueTask<IReadOnlyList<WebhookAttempt>> AttemptsAsync(string jobId, CancellationToken cancellation = default) =>
        _outbox.AttemptsAsync(jobId, cancellation);

    /// <summary>Drops a job's attempts and pending deliveries, when the job itself is dropped.</summary>
    public ValueTask ForgetJobAsync(string jobId, CancellationToken cancellation = default) => _outbox.ForgetJobAsync(jobId, cancellation);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (_signature is null) return;
        var inFlight = new List<Task>();
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                inFlight.RemoveAll(task => task.IsCompleted);
                var free = _options.ConcurrentDeliveries - inFlight.Count;
                if (free > 0)
                    foreach (var pending in await _outbox.TakeDueAsync(_time.GetUtcNow(), free, stopping))
                        inFlight.Add(DeliverAsync(pending, _signature, stopping));
                await WaitAsync(inFlight, canTakeMore: inFlight.Count < _options.ConcurrentDeliveries, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                // A shared outbox can be unreachable for a while; the deliveries wait in it meanwhile.
                _logger.LogError(e, "Reading the webhook outbox failed; trying again in {Seconds} s", PollInterval.TotalSeconds);
                try { await Task.Delay(PollInterval, _time, stopping); }
                catch (OperationCanceledException) { }
            }
        }
        await Task.WhenAll(inFlight);
    }

    /// <summary>Until a delivery is enqueued, the next one falls due, one in flight ends or the poll interval passes.</summary>
    async Task WaitAsync(List<Task> inFlight, bool canTakeMore, CancellationToken stopping)
    {
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var wakers = new List<Task>(inFlight);
        if (canTakeMore)
        {
            var delay = PollInterval;
            if (await _outbox.NextDueAsync(stopping) is { } next)
                delay = TimeSpan.FromTicks(Math.Clamp((next - _time.GetUtcNow()).Ticks, 0, PollInterval.Ticks));
            wakers.Add(Task.Delay(delay, _time, waiting.Token));
            wakers.Add(_wake.Reader.WaitToReadAsync(waiting.Token).AsTask());
        }
        await Task.WhenAny(wakers);
        await waiting.CancelAsync();
        _wake.Reader.TryRead(out _);
        stopping.ThrowIfCancellationRequested();
    }

    async Task DeliverAsync(PendingWebhook pending, WebhookSignature signature, CancellationToken stopping)
    {
        WebhookAttempt attempt;
        try
        {
            attempt = await AttemptAsync(pending, signature, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await ReleaseAsync(pending);
            return;
        }
        // Counted before it is recorded, so whoever sees the attempt in a job's view finds it in the metrics too.
        _attempts.Add(1, new KeyValuePair<string, object?>("event", pending.Delivery.Event),
            new KeyValuePair<string, object?>("outcome", attempt.Outcome.ToString().ToLowerInvariant()));
        try
        {
            // Recorded even while stopping: the receiver may have acted on it.
            await _outbox.CompleteAttemptAsync(pending, attempt, CancellationToken.None);
        }
        catch (Exception e)
        {
            // A shared outbox takes the claim back when it lapses, and the delivery is made again.
            _logger.LogError(e, "Recording attempt {Number} of webhook delivery {DeliveryId} failed", attempt.Number, pending.Delivery.Id);
        }
        Log(pending.Delivery, attempt);
    }

    async Task ReleaseAsync(PendingWebhook pending)
    {
        try
        {
            await _outbox.ReleaseAsync(pending, CancellationToken.None);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Handing back webhook delivery {DeliveryId} failed; it waits for its claim to lapse", pending.Delivery.Id);
        }
    }

    async Task<WebhookAttempt> AttemptAsync(PendingWebhook pending, WebhookSignature signature, CancellationToken stopping)
    {
        var delivery = pending.Delivery;
        var number = pending.AttemptsMade + 1;
        var at = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        var (status, error, outcome) = await PostAsync(delivery, signature, at, stopping);
        var duration = _time.GetElapsedTime(started);
        DateTimeOffset? next = null;
        if (outcome == WebhookOutcome.Retrying)
        {
            next = at + duration + WebhookBackoff.Delay(number, _options.InitialBackoff, _options.MaxBackoff, Random.Shared.NextDouble());
            if (number >= _options.MaxAttempts || next > pending.EnqueuedAt + _options.RetryWindow) (outcome, next) = (WebhookOutcome.Failed, null);
        }
        return new WebhookAttempt(delivery.Id, delivery.Event, number, at, status, error, Math.Round(duration.TotalMilliseconds, 1), outcome, next);
    }

    /// <summary>One POST and what it says about retrying: <see cref="WebhookOutcome.Retrying"/> stands for any failure worth another try.</summary>
    async Task<(int? Status, string? Error, WebhookOutcome Outcome)> PostAsync(WebhookDelivery delivery, WebhookSignature signature,
        DateTimeOffset at, CancellationToken stopping)
    {
        // The request was checked when it came in; this guards deliveries that reached the outbox some other way.
        if (WebhookTargets.Refusal(delivery.Url, allowPrivateNetworks: true) is { } invalid) return (null, invalid, WebhookOutcome.Refused);

        using var timeout = new CancellationTokenSource(_options.Timeout, _time);
        using var attemptCancellation = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        try
        {
            using var request = Request(delivery, signature, at);
            using var response = await _clients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCancellation.Token);
            var status = (int)response.StatusCode;
            return status switch
            {
                >= 200 and < 300 => (status, null, WebhookOutcome.Delivered),
                // The receiver saying it will never want this again.
                410 => (status, "The receiver answered 410 Gone.", WebhookOutcome.Failed),
                >= 300 and < 400 => (status, "Redirects are not followed.", WebhookOutcome.Retrying),
                _ => (status, null, WebhookOutcome.Retrying),
            };
        }
        catch (HttpRequestException e) when (RefusalIn(e) is { } refused)
        {
            return (null, refused.Message, WebhookOutcome.Refused);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !stopping.IsCancellationRequested)
        {
            return (null, $"No answer within {_options.Timeout.TotalSeconds:0.###} s.", WebhookOutcome.Retrying);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // HttpRequestException mostly (no route, refused, reset); anything else is as worth a later try.
            return (null, e.Message, WebhookOutcome.Retrying);
        }
    }

    static HttpRequestMessage Request(WebhookDelivery delivery, WebhookSignature signature, DateTimeOffset at)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url) { Content = new ByteArrayContent(delivery.Body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.UserAgent.ParseAdd(UserAgent);
        request.Headers.Add(WebhookSignature.IdHeader, delivery.Id);
        request.Headers.Add(WebhookSignature.TimestampHeader, WebhookSignature.Timestamp(at));
        request.Headers.Add(WebhookSignature.SignatureHeader, signature.Sign(delivery.Id, at, delivery.Body));
        return request;
    }

    static WebhookTargetRefusedException? RefusalIn(Exception e)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
            if (inner is WebhookTargetRefusedException refused) return refused;
        return null;
    }

    // The host only: a webhook URL often carries a token in its path or query.
    void Log(WebhookDelivery delivery, WebhookAttempt attempt)
    {
        var host = Uri.TryCreate(delivery.Url, UriKind.Absolute, out var uri) ? uri.Host : "(invalid URL)";
        var level = attempt.Outcome switch
        {
            WebhookOutcome.Delivered => LogLevel.Debug,
            WebhookOutcome.Retrying => LogLevel.Information,
            _ => LogLevel.Warning,
        };
        _logger.Log(level, "Webhook {Event} of job {JobId} to {Host}, attempt {Number}: {Outcome} (status {Status}, {Error})",
            delivery.Event, delivery.JobId, host, attempt.Number, attempt.Outcome, attempt.HttpStatus, attempt.Error);
    }
}
