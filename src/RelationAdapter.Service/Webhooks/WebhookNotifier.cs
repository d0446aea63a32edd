using System.Text.Json;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs;
using RelationAdapter.Jobs.Webhooks;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Webhooks;

/// <summary>
/// Sends a job's webhook when it starts and when it ends, as its events filter asks: the body is the job view
/// clients read at GET /v1/edits/{id}. The dispatcher signs, retries and records every attempt.
/// </summary>
public sealed class WebhookNotifier(WebhookDispatcher dispatcher, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, ResultLinks links,
    ILogger<WebhookNotifier> logger) : IJobObserver
{
    public void StatusChanged(EditSpec job, JobState state)
    {
        if (job.Webhook is not { } url) return;
        var webhookEvent = state.IsFinished ? WebhookEvents.Completed : state.Status == JobStatus.Running ? WebhookEvents.Started : null;
        if (webhookEvent is null || job.WebhookEvents?.Contains(webhookEvent) != true) return;
        var body = JsonSerializer.SerializeToUtf8Bytes(EditView.From(new JobRecord(job, state, null), links), json.Value.SerializerOptions);
        // A repeated start (a job claimed again after its worker died) has the same delivery id and is sent once.
        _ = Deliver(new WebhookDelivery(job.Id, url, webhookEvent, body));
    }

    public void Forgotten(string jobId) => _ = dispatcher.ForgetJobAsync(jobId).AsTask();

    async Task Deliver(WebhookDelivery delivery)
    {
        try
        {
            await dispatcher.EnqueueAsync(delivery);
        }
        catch (Exception e)
        {
            logger.LogError(e, "The {Event} webhook of edit {JobId} could not be queued", delivery.Event, delivery.JobId);
        }
    }
}
