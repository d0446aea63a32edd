namespace RelationAdapter.Service.Webhooks;

/// <summary>
/// The wait after a failed attempt: exponential, capped, with jitter so that the deliveries of many jobs that failed
/// together (their receiver was down) do not all come back at the same moment.
/// </summary>
public static class WebhookBackoff
{
    /// <summary>
    /// After attempt <paramref name="attempt"/>: a random wait in the upper half of
    /// min(<paramref name="max"/>, <paramref name="initial"/> · 2^(attempt-1)). Jitter over the upper half only, not
    /// the whole range, so each wait is at least as long as the one before (until the cap): a receiver that is
    /// failing is never hit again at once.
    /// </summary>
    /// <param name="attempt">The attempt that failed, 1 for the first.</param>
    /// <param name="initial">The wait after the first attempt (its upper bound).</param>
    /// <param name="max">The cap on any wait.</param>
    /// <param name="random">A value in [0, 1).</param>
    public static TimeSpan Delay(int attempt, TimeSpan initial, TimeSpan max, double random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        // Past 2^30 every sensible initial wait is over any cap; the exponent is clamped so the product stays finite.
        var ceiling = Math.Min(max.Ticks, initial.Ticks * Math.Pow(2, Math.Min(attempt - 1, 30)));
        return TimeSpan.FromTicks((long)(ceiling / 2 * (1 + random)));
    }
}
