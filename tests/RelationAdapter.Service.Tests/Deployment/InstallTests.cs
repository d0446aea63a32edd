using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using RelationAdapter.Service.Tests.Support;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>
/// What an install needs beyond the layouts' shape: images pinned alike in every container, the weights download
/// that works, named API keys from one Secret, Redis behind a password and a NetworkPolicy, the GPU label optional.
/// </summary>
[Trait("Category", "Deploy")]
public partial class InstallTests
{
    const string ServiceImage = "relation-adapter-service";

    /// <summary>Every overlay, alone and with the weights component (its init container), and with a tag set above both.</summary>
    public static TheoryData<string, string> Renderings()
    {
        var data = new TheoryData<string, string>();
        foreach (var overlay in Rendered.OverlayNames)
        {
            data.Add(overlay, "");
            data.Add(overlay, "download-weights");
        }
        data.Add("production", "download-weights+images");
        return data;
    }

    static async Task<Rendered> RenderAsync(string overlay, string variant) => variant switch
    {
        "" => await Rendered.OverlayAsync(overlay),
        "download-weights" => await Rendered.ComposedAsync(overlay, ["download-weights"]),
        _ => await Rendered.ComposedAsync(overlay, ["download-weights"], $"""
            images:
              - name: registry.example.com/ml/{ServiceImage}
                newTag: "1.0.1"
            """),
    };

    [Theory]
    [MemberData(nameof(Renderings))]
    public async Task Every_container_of_the_service_runs_one_pinned_image(string overlay, string variant)
    {
        var rendered = await RenderAsync(overlay, variant);
        var images = rendered.Objects.Where(o => Yaml.Get(o.Root, "spec", "template", "spec") is not null)
            .SelectMany(w => Pod.AllContainers(w).Select(c => (Workload: w, Container: Yaml.Text(c, "name"), Image: Yaml.Text(c, "image")!)))
            .ToList();
        Assert.NotEmpty(images);
        foreach (var (workload, container, image) in images)
        {
            var tag = Regex.Match(image, @"^[^@]+:(?<tag>[^:/@]+)$").Groups["tag"].Value;
            Assert.True(tag.Length > 0 && tag != "latest", $"{workload}, container {container}: '{image}' is not pinned to a tag");
        }
        var service = images.Where(i => i.Image.Split(':')[^2].EndsWith(ServiceImage, StringComparison.Ordinal)).ToList();
        Assert.Contains(service, i => i.Container == "service");
        Assert.True(service.Select(i => i.Image).Distinct().Count() == 1,
            $"{rendered.Name}: the service's containers run different images: " + string.Join(", ", service.Select(i => $"{i.Workload.Name}/{i.Container}={i.Image}")));
        if (variant == "download-weights")
            Assert.Contains(service, i => i.Container == "wait-for-weights");
        if (variant == "download-weights+images")
            Assert.All(service, i => Assert.EndsWith(":1.0.1", i.Image));
    }

    [Fact]
    public async Task The_weights_job_runs_hf_download_from_a_pinned_huggingface_hub_as_the_readme_does()
    {
        var rendered = await Rendered.ComposedAsync("single-gpu", ["download-weights"]);
        var script = string.Join('\n', Yaml.List(Pod.Container(Assert.Single(rendered.OfKind("Job")), "download"), "args"));
        var pinned = HubPin().Match(script);
        Assert.True(pinned.Success, $"the Job installs huggingface_hub without an exact version:\n{script}");
        var version = Version.Parse(pinned.Groups["version"].Value);
        // 1.x: the hf command, with Typer's options; huggingface-cli there is a stub that exits 1.
        Assert.True(version >= new Version(1, 0), $"huggingface_hub {version}: the pin must be one whose hf uses one pattern per --include");
        CheckDownloads(script, "the Job");

        var readme = string.Join('\n', ReadmeSnippets.Blocks("Configuration", "bash"));
        Assert.Contains($"huggingface_hub=={pinned.Groups["version"].Value}", readme);
        CheckDownloads(readme, "README.md");
        foreach (var section in new[] { "Configuration", "Kubernetes", "Docker" })
            Assert.DoesNotContain(ReadmeSnippets.Blocks(section, "bash").SelectMany(b => b.Split('\n')), Invokes("huggingface-cli"));
    }

    /// <summary>hf download, never huggingface-cli, each --include with one pattern (Typer takes the next word as a file name).</summary>
    static void CheckDownloads(string script, string where)
    {
        Assert.DoesNotContain(script.Split('\n'), Invokes("huggingface-cli"));
        var commands = Regex.Replace(script, @"\\\n\s*", " ").Split('\n').Where(line => line.TrimStart().StartsWith("hf download", StringComparison.Ordinal)).ToList();
        Assert.True(commands.Count == 3, $"{where}: {commands.Count} hf download commands, 3 expected (FLUX.1-dev, SigLIP, RelationAdapter)");
        foreach (var command in commands)
        {
            var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (var i = 0; i < words.Length; i++)
                if (words[i] == "--include" && i + 2 < words.Length && !words[i + 2].StartsWith("--", StringComparison.Ordinal))
                    Assert.Fail($"{where}: '--include {words[i + 1]} {words[i + 2]}': one pattern per --include\n{command}");
            Assert.Contains("--local-dir", words);
        }
    }

    static Predicate<string> Invokes(string command) => line => line.TrimStart().StartsWith(command + " ", StringComparison.Ordinal);

    [GeneratedRegex(@"huggingface_hub==(?<version>\d+\.\d+\.\d+)")]
    private static partial Regex HubPin();

    /// <summary>The API pods take the Secret whole (envFrom: LayoutTests); what the README puts in it must read as named keys.</summary>
    [Fact]
    public void The_readme_secret_of_api_keys_reads_as_several_named_keys()
    {
        // Each entry becomes an environment variable, as envFrom does; the variables' __ are configuration's ':'.
        var command = ReadmeSnippets.Blocks("Kubernetes", "bash").SelectMany(b => Regex.Replace(b, @"\\\n\s*", " ").Split('\n'))
            .Single(line => line.Contains("create secret generic relation-adapter-api-keys", StringComparison.Ordinal));
        var entries = Regex.Matches(command, @"--from-literal=(?<name>[^=\s]+)=(?<value>\S+)")
            .ToDictionary(m => m.Groups["name"].Value.Replace("__", ":"), m => (string?)m.Groups["value"].Value);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(entries).Build();
        var keys = AuthOptions.Read(configuration.GetSection(AuthOptions.Section).GetSection(nameof(AuthOptions.ApiKeys)));
        Assert.True(keys.Count >= 2, $"the README's Secret should show several keys: {command}");
        Assert.Equal(keys.Count, keys.Select(k => k.Name).Distinct().Count());
        Assert.DoesNotContain(keys, k => Regex.IsMatch(k.Name, @"^key-\d+$")); // named, not numbered by position
    }

    /// <summary>Result links made by one replica are checked by another: every service pod signs with the one Secret's key.</summary>
    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Every_service_pod_signs_result_links_with_the_key_of_one_secret(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);
        var sources = rendered.ServiceDeployments.Select(deployment => Pod.Variable(Pod.Container(deployment), "Service__LinkSigningKey")).ToList();
        Assert.All(sources, variable => Assert.NotNull(variable));
        var secrets = sources.Select(variable => Yaml.Map(variable, "valueFrom", "secretKeyRef")).ToList();
        Assert.All(secrets, secret => Assert.Equal(("relation-adapter-links", "signing-key"), (Yaml.Text(secret, "name"), Yaml.Text(secret, "key"))));
        // Several replicas must agree, so there the Secret is required; one pod may fall back to a key of its own.
        if (sources.Count > 1 || rendered.ServiceDeployments.Any(deployment => Pod.Role(Pod.Container(deployment)) != ServiceOptions.AllRole))
            Assert.All(secrets, secret => Assert.Null(Yaml.Text(secret, "optional")));
    }

    [Theory]
    [MemberData(nameof(LayoutTests.InClusterRedisOverlays), MemberType = typeof(LayoutTests))]
    public async Task Redis_requires_the_password_the_pods_and_the_scaler_read_from_one_secret(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);
        var redis = Pod.Container(Assert.Single(rendered.OfKind("StatefulSet")), "redis");
        var args = Yaml.List(redis, "args").Select(a => a.ToString()!).ToList();
        var at = args.IndexOf("--requirepass");
        Assert.True(at >= 0 && at + 1 < args.Count, "redis-server runs without --requirepass");
        var reference = Assert.Single(Pod.References(args[at + 1]));
        var password = SecretRef(redis, reference);
        // The probes' redis-cli authenticates through REDISCLI_AUTH.
        Assert.Equal(password, SecretRef(redis, "REDISCLI_AUTH"));

        foreach (var deployment in rendered.InRole(ServiceOptions.ApiRole).Concat(rendered.InRole(ServiceOptions.WorkerRole)))
        {
            var container = Pod.Container(deployment);
            var connection = Pod.Value(container, "ConnectionStrings__Redis")!;
            var option = Regex.Match(connection, @"(^|,)password=\$\((?<name>[A-Za-z_][A-Za-z0-9_]*)\)(,|$)");
            Assert.True(option.Success, $"{deployment}: the connection string '{connection}' has no password from a variable");
            Assert.Equal(password, SecretRef(container, option.Groups["name"].Value));
        }

        var triggers = Yaml.List(Assert.Single(rendered.OfKind("ScaledObject")).Root, "spec", "triggers");
        Assert.NotEmpty(triggers);
        foreach (var trigger in triggers)
        {
            var authentication = rendered.Single("TriggerAuthentication", Yaml.Text(trigger, "authenticationRef", "name")!);
            var target = Yaml.List(authentication.Root, "spec", "secretTargetRef").Single(r => Yaml.Text(r, "parameter") == "password");
            Assert.Equal(password, (Yaml.Text(target, "name"), Yaml.Text(target, "key")));
        }
        Assert.Empty(rendered.OfKind("Secret"));
    }

    static (string? Name, string? Key) SecretRef(object container, string variable)
    {
        var source = Yaml.Map(Pod.Variable(container, variable), "valueFrom", "secretKeyRef");
        Assert.True(source.Count > 0, $"{variable} does not come from a Secret");
        Assert.NotEqual("true", Yaml.Text(source, "optional")?.ToLowerInvariant()); // no password: no start, not an open Redis
        return (Yaml.Text(source, "name"), Yaml.Text(source, "key"));
    }

    [Theory]
    [MemberData(nameof(LayoutTests.InClusterRedisOverlays), MemberType = typeof(LayoutTests))]
    public async Task Only_the_api_the_workers_and_keda_reach_redis(string overlay)
    {
        var rendered = await Rendered.OverlayAsync(overlay);
        var redis = Assert.Single(rendered.OfKind("StatefulSet"));
        var policy = Assert.Single(rendered.OfKind("NetworkPolicy"), p => rendered.Selected(Yaml.Get(p.Root, "spec", "podSelector", "matchLabels")).Contains(redis));
        Assert.Equal([redis], rendered.Selected(Yaml.Get(policy.Root, "spec", "podSelector", "matchLabels")));
        Assert.Contains("Ingress", Yaml.List(policy.Root, "spec", "policyTypes").Select(t => t.ToString()));

        var admitted = new List<Manifest>();
        var namespaces = new List<string?>();
        foreach (var rule in Yaml.List(policy.Root, "spec", "ingress"))
        {
            var peers = Yaml.List(rule, "from");
            Assert.True(peers.Count > 0, $"{policy}: a rule without 'from' admits every pod");
            foreach (var peer in peers)
            {
                Assert.Null(Yaml.Get(peer, "ipBlock"));
                if (Yaml.Get(peer, "namespaceSelector") is { } namespaceSelector)
                {
                    Assert.Empty(Yaml.List(namespaceSelector, "matchExpressions"));
                    namespaces.Add(Yaml.Text(namespaceSelector, "matchLabels", "kubernetes.io/metadata.name"));
                }
                else
                {
                    var selected = rendered.Selected(Yaml.Get(peer, "podSelector", "matchLabels"));
                    Assert.NotEmpty(selected);
                    admitted.AddRange(selected);
                }
            }
            var ports = Yaml.List(rule, "ports");
            Assert.NotEmpty(ports);
            Assert.All(ports, p => Assert.Contains(Yaml.List(Pod.Container(redis, "redis"), "ports"),
                c => Yaml.Text(c, "name") == Yaml.Text(p, "port") || Yaml.Text(c, "containerPort") == Yaml.Text(p, "port")));
        }
        var expected = rendered.InRole(ServiceOptions.ApiRole).Concat(rendered.InRole(ServiceOptions.WorkerRole)).Select(d => d.Name).Order();
        Assert.Equal(expected, admitted.Select(d => d.Name).Distinct().Order());
        Assert.Equal(["keda"], namespaces);
    }

    [Theory]
    [InlineData("single-gpu")]
    [InlineData("scale-out")]
    public async Task The_gpu_node_label_is_a_component_for_the_model_pods_alone(string layout)
    {
        var rendered = await Rendered.ComposedAsync(layout, ["gpu-node-selector"]);
        foreach (var deployment in rendered.ServiceDeployments)
        {
            var selector = Yaml.Map(Pod.Spec(deployment), "nodeSelector");
            if (Pod.Options(Pod.Container(deployment)).RunsWorker)
                Assert.Equal("true", selector.GetValueOrDefault("nvidia.com/gpu.present")?.ToString());
            else
                Assert.False(selector.ContainsKey("nvidia.com/gpu.present"), $"{deployment} runs no model but waits for a GPU node");
        }
    }
}
