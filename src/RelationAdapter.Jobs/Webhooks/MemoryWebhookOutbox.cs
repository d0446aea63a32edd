namespace RelationAdapter.Jobs.Webhooks;

/// <summary>
/// The outbox of one process: pending deliveries are lost with it. Attempts are kept per job until the job is
/// forgotten; past <see cref="MaxJobs"/> jobs the oldest job without a pending delivery is forgotten first, so a
/// caller that never forgets cannot grow it without end.
/// </summary>
public sealed class MemoryWebhookOutbox(int maxJobs = MemoryWebhookOutbox.DefaultMaxJobs) : IWebhookOutbox
{
    public const int DefaultMaxJobs = 10_000;

    sealed class Entry(WebhookDelivery delivery, DateTimeOffset enqueuedAt)
    {
        public WebhookDelivery Delivery { get; } = delivery;
        public DateTimeOffset EnqueuedAt { get; } = enqueuedAt;
        public DateTimeOffset DueAt { get; set; } = enqueuedAt;
        public int AttemptsMade { get; set; }
        public bool Claimed { get; set; }
    }

    readonly Lock _gate = new();
    readonly Dictionary<string, Entry> _pending = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<WebhookAttempt>> _attemptsByJob = new(StringComparer.Ordinal);
    // Jobs in the order they were first seen, for forgetting the oldest.
    readonly LinkedList<string> _jobOrder = new();
    readonly Dictionary<string, LinkedListNode<string>> _jobNodes = new(StringComparer.Ordinal);

    public int MaxJobs { get; } = maxJobs > 0 ? maxJobs : throw new ArgumentOutOfRangeException(nameof(maxJobs));

    public ValueTask<bool> AddAsync(WebhookDelivery delivery, DateTimeOffset now, CancellationToken cancellation = default)
    {
        lock (_gate)
        {
            var made = _attemptsByJob.TryGetValue(delivery.JobId, out var attempts) && attempts.Any(a => a.DeliveryId == delivery.Id);
            if (made || !_pending.TryAdd(delivery.Id, new Entry(delivery, now))) return ValueTask.FromResult(false);
            Track(delivery.JobId);
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<IReadOnlyList<PendingWebhook>> TakeDueAsync(DateTimeOffset now, int max, CancellationToken cancellation = default)
    {
        lock (_gate)
        {
            var due = _pending.Values.Where(entry => !entry.Claimed && entry.DueAt <= now).OrderBy(entry => entry.DueAt).Take(max).ToList();
            foreach (var entry in due) entry.Claimed = true;
            IReadOnlyList<PendingWebhook> taken = due.Select(entry => new PendingWebhook(entry.Delivery, entry.EnqueuedAt, entry.AttemptsMade)).ToList();
            return ValueTask.FromResult(taken);
        }
    }

    public ValueTask<DateTimeOffset?> NextDueAsync(CancellationToken cancellation = default)
    {
        lock (_gate)
            return ValueTask.FromResult(_pending.Values.Where(entry => !entry.Claimed).Select(entry => (DateTimeOffset?)entry.DueAt).Min());
    }

    public ValueTask CompleteAttemptAsync(PendingWebhook pending, WebhookAttempt attempt, CancellationToken cancellation = default)
    {
        var delivery = pending.Delivery;
        lock (_gate)
        {
            // A job forgotten mid-attempt stays forgotten: its attempt has nowhere to show.
            if (!_pending.TryGetValue(delivery.Id, out var entry)) return ValueTask.CompletedTask;
            AttemptsOf(delivery.JobId).Add(attempt);
            if (attempt.NextAttemptAt is { } next)
            {
                entry.AttemptsMade = attempt.Number;
                entry.DueAt = next;
                entry.Claimed = false;
            }
            else _pending.Remove(delivery.Id);
            return ValueTask.CompletedTask;
        }
    }

    public ValueTask ReleaseAsync(PendingWebhook pending, CancellationToken cancellation = default)
    {
        lock (_gate)
            if (_pending.TryGetValue(pending.Delivery.Id, out var entry)) entry.Claimed = false;
        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<WebhookAttempt>> AttemptsAsync(string jobId, CancellationToken cancellation = default)
    {
        lock (_gate)
        {
            IReadOnlyList<WebhookAttempt> attempts = _attemptsByJob.TryGetValue(jobId, out var list) ? list.ToArray() : [];
            return ValueTask.FromResult(attempts);
        }
    }

    public ValueTask ForgetJobAsync(string jobId, CancellationToken cancellation = default)
    {
        lock (_gate) Forget(jobId);
        return ValueTask.CompletedTask;
    }

    List<WebhookAttempt> AttemptsOf(string jobId)
    {
        Track(jobId);
        if (!_attemptsByJob.TryGetValue(jobId, out var attempts)) _attemptsByJob[jobId] = attempts = [];
        return attempts;
    }

    void Track(string jobId)
    {
        if (_jobNodes.ContainsKey(jobId)) return;
        _jobNodes[jobId] = _jobOrder.AddLast(jobId);
        // Jobs still waiting for a delivery are passed over: forgetting them would drop a webhook that was promised.
        for (var node = _jobOrder.First; _jobNodes.Count > MaxJobs && node is not null;)
        {
            var next = node.Next;
            if (node.Value != jobId && !_pending.Values.Any(entry => entry.Delivery.JobId == node.Value)) Forget(node.Value);
            node = next;
        }
    }

    void Forget(string jobId)
    {
        _attemptsByJob.Remove(jobId);
        foreach (var id in _pending.Where(pair => pair.Value.Delivery.JobId == jobId).Select(pair => pair.Key).ToList()) _pending.Remove(id);
        if (_jobNodes.Remove(jobId, out var node)) _jobOrder.Remove(node);
    }
}
