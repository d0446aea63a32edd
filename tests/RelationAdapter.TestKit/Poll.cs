namespace RelationAdapter.TestKit;

/// <summary>The one polling loop of the tests: waits for something to happen, never for a fixed time.</summary>
public static class Poll
{
    /// <summary>Polls until the condition holds; throws naming what never happened.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow >= deadline) throw new TimeoutException($"after {seconds} s: {what}");
            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what, int seconds = 30) => UntilAsync(() => Task.FromResult(condition()), what, seconds);
}
