using System.Text;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Tests.Webhooks;

[Trait("Category", "Unit")]
public class WebhookSignatureTests
{
    [Fact]
    public void Signs_the_Standard_Webhooks_test_vector()
    {
        // The vector the standard-webhooks libraries test their Sign against.
        var signature = WebhookSignature.FromSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", DateTimeOffset.FromUnixTimeSeconds(1614265330), "{\"test\": 2432232314}"u8);
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    [Fact]
    public void A_signature_passes_a_receivers_own_check_and_only_for_its_body()
    {
        var at = DateTimeOffset.UtcNow;
        var body = Encoding.UTF8.GetBytes("{\"id\":\"ed_1\",\"status\":\"succeeded\",\"prompt\":\"ünïcode\"}");
        var signature = WebhookSignature.FromSecret(WebhookDispatcherHost.Secret).Sign("msg_ed_1_completed", at, body);
        var timestamp = WebhookSignature.Timestamp(at);

        Assert.True(WebhookReceiver.Verify(WebhookDispatcherHost.Secret, "msg_ed_1_completed", timestamp, signature, body));
        Assert.False(WebhookReceiver.Verify(WebhookDispatcherHost.Secret, "msg_ed_1_started", timestamp, signature, body));
        Assert.False(WebhookReceiver.Verify(WebhookDispatcherHost.Secret, "msg_ed_1_completed", timestamp, signature, [.. body, (byte)' ']));
    }

    [Theory]
    [InlineData("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    [InlineData("whsec_not base64!")]
    [InlineData("whsec_c2hvcnQ=")]
    public void A_secret_not_of_the_whsec_form_is_refused(string secret) =>
        Assert.Throws<FormatException>(() => WebhookSignature.FromSecret(secret));
}
