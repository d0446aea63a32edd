using RelationAdapter.Service.Endpoints;
using RelationAdapter.Service.Http;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Redis;
using RelationAdapter.Service.Telemetry;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddServiceOptions();
builder.AddHttpServer();
builder.AddServiceTelemetry();
builder.AddJobs();
builder.AddRedisBackend();
builder.Services.AddWebhookNotifications();
builder.Services.AddHttpContract();
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
