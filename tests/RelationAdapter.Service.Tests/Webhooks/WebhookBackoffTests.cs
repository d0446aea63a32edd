using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Tests.Webhooks;

[Trait("Category", "Unit")]
public class WebhookBackoffTests
{
    static readonly TimeSpan Initial = TimeSpan.FromSeconds(1), Max = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(1, 0.5, 1)]
    [InlineData(2, 1, 2)]
    [InlineData(3, 2, 4)]
    [InlineData(6, 16, 32)]
    [InlineData(7, 30, 60)]
    [InlineData(50, 30, 60)]
    [InlineData(int.MaxValue, 30, 60)]
    public void Waits_double_with_jitter_in_the_upper_half_up_to_the_cap(int attempt, double fromSeconds, double toSeconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(fromSeconds), WebhookBackoff.Delay(attempt, Initial, Max, 0));
        var longest = WebhookBackoff.Delay(attempt, Initial, Max, 0.999999);
        Assert.InRange(longest, TimeSpan.FromSeconds(toSeconds) - TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(toSeconds));
    }

    [Fact]
    public void Each_wait_is_longer_than_the_one_before_whatever_the_jitter()
    {
        for (var attempt = 1; attempt < 6; attempt++)
            Assert.True(WebhookBackoff.Delay(attempt + 1, Initial, Max, 0) > WebhookBackoff.Delay(attempt, Initial, Max, 0.999999));
    }
}
