using System.Text.Json;
using RelationAdapter.Service.Endpoints;
using RelationAdapter.Service.Telemetry;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>The kustomize base and overlays agree with the service: ports, probes, drain, metrics, files.</summary>
[Trait("Category", "Deploy")]
public class DeploymentManifestTests
{
    static readonly string Root = Repository.Root;
    static readonly string Base = Repository.File("deploy", "base");

    static IReadOnlyList<Manifest> BaseManifests()
    {
        var kustomization = Manifest.LoadAll(Path.Combine(Base, "kustomization.yaml")).Single();
        return Yaml.List(kustomization.Root, "resources").Select(r => Path.Combine(Base, (string)r)).SelectMany(Manifest.LoadAll).ToList();
    }

    static Dictionary<object, object> Container(Manifest deployment) =>
        (Dictionary<object, object>)Yaml.Get(deployment.Root, "spec", "template", "spec", "containers", 0)!;

    static Manifest Only(IEnumerable<Manifest> manifests, string kind) => manifests.Single(m => m.Kind == kind);

    static int ServicePort() => DockerfileTests.HttpPort();

    [Fact]
    public void Every_manifest_parses_and_names_its_kind()
    {
        var files = Directory.GetFiles(Repository.File("deploy"), "*.yaml", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var documents = Manifest.LoadAll(file);
            Assert.NotEmpty(documents);
            Assert.All(documents, d => Assert.False(string.IsNullOrEmpty(d.Kind), $"{file}: a document without kind"));
        }
    }

    [Fact]
    public void Every_referenced_file_exists()
    {
        foreach (var kustomization in Directory.GetFiles(Path.Combine(Root, "deploy"), "kustomization.yaml", SearchOption.AllDirectories))
        {
            var folder = Path.GetDirectoryName(kustomization)!;
            var root = Manifest.LoadAll(kustomization).Single().Root;
            foreach (var resource in Yaml.List(root, "resources"))
                Assert.True(File.Exists(Path.Combine(folder, (string)resource)) || Directory.Exists(Path.Combine(folder, (string)resource)), $"{kustomization}: {resource}");
            foreach (var generator in Yaml.List(root, "configMapGenerator"))
                foreach (var file in Yaml.List(generator, "files"))
                    Assert.True(File.Exists(Path.Combine(folder, (string)file)), $"{kustomization}: {file}");
            foreach (var patch in Yaml.List(root, "patches").Select(p => Yaml.Text(p, "path")).OfType<string>())
                Assert.True(File.Exists(Path.Combine(folder, patch)), $"{kustomization}: {patch}");
        }
    }

    [Fact]
    public void Ports_and_probe_paths_match_the_service()
    {
        var manifests = BaseManifests();
        var container = Container(Only(manifests, "Deployment"));
        var port = Yaml.List(container, "ports").Cast<Dictionary<object, object>>().Single();
        Assert.Equal(ServicePort().ToString(), port["containerPort"].ToString());
        var portName = (string)port["name"];

        Assert.Equal(HealthEndpoints.ReadyPath, Yaml.Text(container, "readinessProbe", "httpGet", "path"));
        Assert.Equal(HealthEndpoints.LivePath, Yaml.Text(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal(HealthEndpoints.ReadyPath, Yaml.Text(container, "startupProbe", "httpGet", "path"));
        foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
            Assert.Equal(portName, Yaml.Text(container, probe, "httpGet", "port"));

        var service = Only(manifests, "Service");
        Assert.Equal(portName, Yaml.Text(service.Root, "spec", "ports", 0, "targetPort"));
        var podLabels = (Dictionary<object, object>)Yaml.Get(Only(manifests, "Deployment").Root, "spec", "template", "metadata", "labels")!;
        foreach (var selector in new[] { Yaml.Get(service.Root, "spec", "selector"), Yaml.Get(Only(manifests, "PodDisruptionBudget").Root, "spec", "selector", "matchLabels") })
            foreach (var (key, value) in (Dictionary<object, object>)selector!)
                Assert.Equal(value, podLabels[key]);
        Assert.Equal(ServicePort().ToString(), Yaml.Text(Only(manifests, "Deployment").Root, "spec", "template", "metadata", "annotations", "prometheus.io/port"));
        Assert.Equal("/metrics", Yaml.Text(Only(manifests, "Deployment").Root, "spec", "template", "metadata", "annotations", "prometheus.io/path"));
    }

    [Fact]
    public void The_pod_runs_on_a_gpu_node_with_read_only_weights()
    {
        var deployment = Only(BaseManifests(), "Deployment");
        var pod = Yaml.Get(deployment.Root, "spec", "template", "spec");
        var container = Container(deployment);
        Assert.Equal("1", Yaml.Text(container, "resources", "limits", "nvidia.com/gpu"));
        Assert.NotNull(Yaml.Get(pod, "nodeSelector"));
        Assert.Contains(Yaml.List(pod, "tolerations"), t => Yaml.Text(t, "key") == "nvidia.com/gpu");
        var weights = Yaml.List(container, "volumeMounts").Single(m => Yaml.Text(m, "name") == "weights");
        Assert.Equal("/weights", Yaml.Text(weights, "mountPath"));
        Assert.Equal("True", Yaml.Text(weights, "readOnly"), ignoreCase: true);
        var claim = Yaml.Text(Yaml.List(pod, "volumes").Single(v => Yaml.Text(v, "name") == "weights"), "persistentVolumeClaim", "claimName");
        Assert.Contains(BaseManifests(), m => m.Kind == "PersistentVolumeClaim" && m.Name == claim);
        Assert.Equal("true", Yaml.Text(pod, "securityContext", "runAsNonRoot"), ignoreCase: true);
    }

    [Fact]
    public void Startup_allows_loading_40_GB_and_termination_covers_the_drain()
    {
        var deployment = Only(BaseManifests(), "Deployment");
        var container = Container(deployment);
        var startupSeconds = int.Parse(Yaml.Text(container, "startupProbe", "periodSeconds")!) * int.Parse(Yaml.Text(container, "startupProbe", "failureThreshold")!);
        Assert.True(startupSeconds >= 15 * 60, $"startup probe allows {startupSeconds} s; loading ~40 GB needs at least 15 minutes");

        using var settings = JsonDocument.Parse(File.ReadAllText(Path.Combine(Base, "appsettings.Production.json")));
        var drain = TimeSpan.Parse(settings.RootElement.GetProperty("Queue").GetProperty("ShutdownGracePeriod").GetString()!);
        var preStop = Yaml.List(container, "lifecycle", "preStop", "exec", "command").Select(c => c.ToString()).ToList();
        Assert.Equal("sleep", preStop[0]);
        var grace = int.Parse(Yaml.Text(deployment.Root, "spec", "template", "spec", "terminationGracePeriodSeconds")!);
        Assert.True(grace >= int.Parse(preStop[1]!) + drain.TotalSeconds + 5,
            $"terminationGracePeriodSeconds {grace} must cover preStop {preStop[1]} s + drain {drain.TotalSeconds} s + 5 s");
    }

    [Fact]
    public void Autoscaling_uses_the_queue_depth_metric_the_service_exports()
    {
        var hpa = Only(BaseManifests(), "HorizontalPodAutoscaler");
        Assert.Equal(ServiceTelemetry.PrometheusNames.QueueDepth, Yaml.Text(hpa.Root, "spec", "metrics", 0, "pods", "metric", "name"));
        Assert.Equal(Only(BaseManifests(), "Deployment").Name, Yaml.Text(hpa.Root, "spec", "scaleTargetRef", "name"));
    }

    [Fact]
    public void Api_keys_come_from_the_secret_and_settings_from_the_generated_config_map()
    {
        var manifests = BaseManifests();
        var container = Container(Only(manifests, "Deployment"));
        var apiKey = Yaml.List(container, "env").Single(e => Yaml.Text(e, "name") == "Auth__ApiKeys__0");
        var secret = Only(manifests, "Secret");
        Assert.Equal(secret.Name, Yaml.Text(apiKey, "valueFrom", "secretKeyRef", "name"));
        Assert.NotNull(Yaml.Get(secret.Root, "stringData", Yaml.Text(apiKey, "valueFrom", "secretKeyRef", "key")!));

        var kustomization = Manifest.LoadAll(Path.Combine(Base, "kustomization.yaml")).Single();
        var generated = Yaml.Text(kustomization.Root, "configMapGenerator", 0, "name");
        var volume = Yaml.List(Only(manifests, "Deployment").Root is var d ? Yaml.Get(d, "spec", "template", "spec") : null, "volumes")
            .Single(v => Yaml.Text(v, "name") == "settings");
        Assert.Equal(generated, Yaml.Text(volume, "configMap", "name"));
        var env = Yaml.List(container, "env").Single(e => Yaml.Text(e, "name") == "ASPNETCORE_ENVIRONMENT");
        Assert.Equal("appsettings." + Yaml.Text(env, "value") + ".json",
            Yaml.Text(Yaml.List(container, "volumeMounts").Single(m => Yaml.Text(m, "name") == "settings"), "subPath"));
    }
}
