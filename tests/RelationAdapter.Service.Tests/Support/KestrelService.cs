using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>The service on a real Kestrel socket (loopback, a free port), for tests that need real HTTP.</summary>
public sealed class KestrelService : IAsyncDisposable
{
    public ServiceFactory Factory { get; }
    public Uri Address { get; }
    public HttpClient Client { get; }

    KestrelService(ServiceFactory factory, Uri address, HttpClient client) => (Factory, Address, Client) = (factory, address, client);

    public static async Task<KestrelService> StartAsync(Dictionary<string, string?>? settings = null)
    {
        // A free port through the urls setting, not UseKestrel(0): that one rewrites the server's addresses after the host
        // is built, racing Kestrel's bind, which then throws "cannot be modified after the server has started" (dotnet/aspnetcore#67714).
        var factory = new ServiceFactory { Settings = new(settings ?? []) { ["urls"] = "http://127.0.0.1:0" } };
        factory.UseKestrel();
        factory.StartServer();
        var address = new Uri(factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        await factory.ReadyClientAsync();
        return new KestrelService(factory, address, new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) });
    }

    public T Service<T>() where T : notnull => Factory.Services.GetRequiredService<T>();

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
    }
}
