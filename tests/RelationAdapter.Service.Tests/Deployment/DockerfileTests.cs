using System.Text.Json;
using System.Text.RegularExpressions;
using RelationAdapter.Service.Platform;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>The Dockerfile cannot be built here (no Docker engine); these checks keep it honest.</summary>
[Trait("Category", "Deploy")]
public class DockerfileTests
{
    static readonly string Root = Repository.Root;
    static readonly string[] Lines = JoinContinuations(File.ReadAllLines(Repository.File("Dockerfile")));

    static string[] JoinContinuations(string[] lines)
    {
        var joined = new List<string>();
        var current = "";
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (current.Length == 0 && (line.Length == 0 || line.StartsWith('#'))) continue;
            current += (current.Length > 0 ? " " : "") + line.TrimEnd('\\').Trim();
            if (!line.EndsWith('\\')) { joined.Add(current); current = ""; }
        }
        return [.. joined];
    }

    static IEnumerable<string> Instructions(string name) =>
        Lines.Where(l => l.StartsWith(name + " ", StringComparison.OrdinalIgnoreCase)).Select(l => l[(name.Length + 1)..].Trim());

    [Fact]
    public void It_is_multi_stage_building_with_the_cuda_torch_backend()
    {
        var stages = Instructions("FROM").Select(f => Regex.Match(f, @"\bAS\s+(\S+)", RegexOptions.IgnoreCase).Groups[1].Value).ToList();
        Assert.Contains("build", stages);
        Assert.Contains("runtime", stages);
        Assert.Equal("runtime", stages[^1]);
        Assert.Contains(Instructions("RUN"), r => r.Contains("dotnet publish") && r.Contains("-p:TorchBackend=cuda"));
        Assert.Contains(Instructions("FROM"), f => f.Contains("cuda", StringComparison.OrdinalIgnoreCase) && f.EndsWith("AS runtime"));
    }

    [Fact]
    public void It_runs_as_a_non_root_user_exposes_the_service_port_and_checks_healthz()
    {
        var user = Instructions("USER").Last();
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user.Split(':')[0]);

        var port = HttpPort();
        Assert.Equal(port.ToString(), Instructions("EXPOSE").Single());
        var healthcheck = Instructions("HEALTHCHECK").Single();
        Assert.Contains($"localhost:{port}{HealthEndpoints.LivePath}", healthcheck);
        Assert.Contains(Instructions("ENV"), e => e.Contains("Model__FluxDirectory=/weights/"));
    }

    [Fact]
    public void Every_path_it_copies_from_the_context_exists()
    {
        var copies = Instructions("COPY").Where(c => !c.StartsWith("--from", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(copies);
        foreach (var copy in copies)
        {
            var parts = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
            foreach (var source in parts[..^1])
                Assert.True(File.Exists(Path.Combine(Root, source)) || Directory.Exists(Path.Combine(Root, source)), $"COPY source '{source}' is missing");
        }
    }

    /// <summary>The port the image listens on: ASPNETCORE_HTTP_PORTS, as ASP.NET Core's container images set it.</summary>
    public static int HttpPort()
    {
        var setting = Instructions("ENV").SelectMany(e => e.Split([' ', '\\', '\n'], StringSplitOptions.RemoveEmptyEntries))
            .Single(e => e.StartsWith("ASPNETCORE_HTTP_PORTS=", StringComparison.Ordinal));
        return int.Parse(setting.Split('=')[1]);
    }

    [Fact]
    public void The_listening_address_comes_from_the_environment_not_from_appsettings()
    {
        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "appsettings.json")));
        Assert.False(settings.RootElement.TryGetProperty("Urls", out _), "appsettings.json must not set Urls: it would override ASPNETCORE_URLS/ASPNETCORE_HTTP_PORTS");
        Assert.DoesNotContain(Instructions("ENV"), e => e.Contains("ASPNETCORE_URLS"));
    }
}
