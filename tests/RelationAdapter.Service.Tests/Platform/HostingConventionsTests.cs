using System.Net;
using Microsoft.Extensions.Configuration;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Platform;

[Trait("Category", "Service")]
public class HostingConventionsTests
{
    static IConfiguration Configuration(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings.ToDictionary(s => s.Key, s => (string?)s.Value)).Build();

    [Fact]
    public void Without_an_address_from_the_environment_the_service_listens_on_localhost_8080_only()
    {
        Assert.Equal("http://localhost:8080", HostingConventions.DefaultUrl(Configuration()));
        Assert.Null(HostingConventions.DefaultUrl(Configuration(("http_ports", "9090"))));   // ASPNETCORE_HTTP_PORTS
        Assert.Null(HostingConventions.DefaultUrl(Configuration(("urls", "http://0.0.0.0:7000")))); // ASPNETCORE_URLS, --urls
    }

    [Fact]
    public async Task Head_answers_every_get_route_with_its_status_and_headers_and_no_body()
    {
        await using var service = await KestrelService.StartAsync();
        var id = await Api.SubmitAsync(service.Client, Api.EditForm());
        await Api.WaitForAsync(service.Client, id, "succeeded");
        var get = await service.Client.GetAsync($"/v1/edits/{id}/result");

        foreach (var (path, status) in new[] { ("/healthz", HttpStatusCode.OK), ($"/v1/edits/{id}", HttpStatusCode.OK), ($"/v1/edits/{id}/result", HttpStatusCode.OK), ("/v1/edits/ed_unknown", HttpStatusCode.NotFound) })
        {
            using var head = await service.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.Equal(status, head.StatusCode);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
        using var headResult = await service.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/v1/edits/{id}/result"));
        Assert.Equal("image/png", headResult.Content.Headers.ContentType!.MediaType);
        Assert.Equal(get.Content.Headers.ContentLength, headResult.Content.Headers.ContentLength);
        Assert.Equal(id, headResult.Headers.GetValues("X-Edit-Id").Single());
    }

    [Fact]
    public async Task Otel_service_name_from_the_environment_names_the_resource()
    {
        await using var factory = new ServiceFactory { Settings = { ["OTEL_SERVICE_NAME"] = "edits-eu-1" } };
        var metrics = await (await factory.ReadyClientAsync()).GetStringAsync("/metrics");
        Assert.Contains("service_name=\"edits-eu-1\"", metrics);
    }

    [Fact]
    public async Task Unknown_routes_and_methods_answer_problem_json()
    {
        await using var factory = new ServiceFactory();
        var client = factory.CreateClient();
        var missing = await client.GetAsync("/v2/nothing");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType!.MediaType);
        var method = await client.PutAsync("/healthz", new StringContent(""));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, method.StatusCode);
        Assert.Equal("urn:relation-adapter:problem:method-not-allowed", (await method.JsonAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_over_long_request_target_or_oversized_headers_get_problem_details_not_an_empty_body()
    {
        await using var service = await KestrelService.StartAsync();
        var longTarget = await RawHttp.SendAsync(service.Address,
            $"GET /healthz?pad={new string('x', HostingConventions.MaxRequestTarget)} HTTP/1.1\r\nHost: localhost\r\nConnection: close", []);
        Assert.Equal(414, longTarget.Status);
        Assert.StartsWith("application/problem+json", longTarget.ContentType);
        Assert.Contains("urn:relation-adapter:problem:uri-too-long", longTarget.Body);

        var bigHeaders = await RawHttp.SendAsync(service.Address,
            $"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Pad: {new string('h', HostingConventions.MaxHeaderBytes)}", []);
        Assert.Equal(431, bigHeaders.Status);
        Assert.StartsWith("application/problem+json", bigHeaders.ContentType);
        Assert.Contains("urn:relation-adapter:problem:headers-too-large", bigHeaders.Body);
    }
}
