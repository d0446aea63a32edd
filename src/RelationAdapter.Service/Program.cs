using RelationAdapter.Service;
using RelationAdapter.Service.Idempotency;
using RelationAdapter.Service.Platform;
using RelationAdapter.Service.Webhooks;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddServiceOptions();
builder.AddHttpServer();
builder.AddServiceTelemetry();
builder.AddJobs();
builder.Services.AddWebhookNotifications();
builder.Services.AddHttpContract();
builder.Services.AddIdempotency();
builder.Services.AddLimitsDocumentation();

var app = builder.Build();
app.UseHttpConventions();
app.MapServiceEndpoints();

if (OpenApiExport.Requested(args, out var exportPath))
{
    await OpenApiExport.WriteAsync(app, exportPath);
    return;
}

app.Run();

/// <summary>The entry point (public for WebApplicationFactory).</summary>
public partial class Program;
