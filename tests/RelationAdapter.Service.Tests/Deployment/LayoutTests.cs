using System.Text.Json;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Jobs.Redis;
using RelationAdapter.Service.Platform;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>Every overlay as kustomize renders it agrees with the service: roles, ports, probes, drain, the queue.</summary>
[Trait("Category", "Deploy")]
public class LayoutTests
{
    const string PartOf = "app.kubernetes.io/part-of";
    const string AppService = "relation-adapter-service";

    /// <summary>The overlays that split the service into API replicas and GPU workers over Redis.</summary>
    public static TheoryData<string> ScaleOutOverlays() => new("scale-out", "external-redis", "production");

    /// <summary>The overlays that run Redis themselves.</summary>
    public static TheoryData<string> InClusterRedisOverlays() => new("scale-out", "production");

    static Task<Rendered> Render(string overlay) => Rendered.OverlayAsync(overlay);

    static int HttpPort() => DockerfileTests.HttpPort();

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Each_overlay_renders_labelled_objects_in_one_namespace(string overlay)
    {
        var rendered = await Render(overlay);
        Assert.NotEmpty(rendered.ServiceDeployments);
        Assert.All(rendered.Objects, o => Assert.True(Yaml.Text(o.Root, "metadata", "labels", PartOf) == "relation-adapter", $"{o} lacks {PartOf}"));
        var duplicates = rendered.Objects.GroupBy(o => (o.Kind, o.Namespace, o.Name)).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
        Assert.True(rendered.Objects.Where(o => o.Kind != "Namespace").Select(o => o.Namespace).Distinct().Count() == 1,
            "every object lands in the same namespace");
        foreach (var ns in rendered.OfKind("Namespace"))
            Assert.All(rendered.Objects.Where(o => o.Kind != "Namespace"), o => Assert.Equal(ns.Name, o.Namespace));
    }

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Selectors_pick_exactly_their_own_pods(string overlay)
    {
        var rendered = await Render(overlay);
        foreach (var workload in rendered.Workloads)
        {
            var selector = Yaml.Get(workload.Root, "spec", "selector", "matchLabels");
            Assert.Equal([workload], rendered.Selected(selector));
        }
        foreach (var service in rendered.OfKind("Service"))
            Assert.True(rendered.Selected(Yaml.Get(service.Root, "spec", "selector")).Count == 1, $"{service} should select the pods of one workload");
        foreach (var budget in rendered.OfKind("PodDisruptionBudget"))
            Assert.True(rendered.Selected(Yaml.Get(budget.Root, "spec", "selector", "matchLabels")).Count == 1, $"{budget} should cover one workload");
    }

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task The_service_fronts_the_pods_that_serve_the_api(string overlay)
    {
        var rendered = await Render(overlay);
        var service = rendered.Single("Service", AppService);
        var target = Assert.Single(rendered.Selected(Yaml.Get(service.Root, "spec", "selector")));
        Assert.True(Pod.Options(Pod.Container(target)).RunsApi, $"{service} routes to {target}, which serves no API");
        Assert.All(rendered.ServiceDeployments.Where(d => Pod.Options(Pod.Container(d)).RunsApi), d => Assert.Equal(target, d));

        var port = Yaml.List(Pod.Container(target), "ports").Single(p => Yaml.Text(p, "containerPort") == HttpPort().ToString());
        Assert.Equal(Yaml.Text(port, "name"), Yaml.Text(service.Root, "spec", "ports", 0, "targetPort"));
    }

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Probes_and_the_scrape_use_the_management_port_which_no_service_exposes(string overlay)
    {
        var rendered = await Render(overlay);
        foreach (var deployment in rendered.ServiceDeployments)
        {
            var container = Pod.Container(deployment);
            var ports = Yaml.List(container, "ports");
            Assert.All(ports, p => Assert.False(string.IsNullOrEmpty(Yaml.Text(p, "name")), $"{deployment}: a port is unnamed"));
            Assert.Contains(ports, p => Yaml.Text(p, "containerPort") == HttpPort().ToString());

            // Management:Port as the service reads it: environment, then the mounted appsettings.
            var configured = Pod.Value(container, "Management__Port")
                ?? (Settings(rendered, deployment) is { } settings && settings.TryGetProperty("Management", out var management) && management.TryGetProperty("Port", out var value) ? value.ToString() : null);
            Assert.True(int.TryParse(configured, out var managementPort), $"{deployment}: Management:Port is not set");
            Assert.NotEqual(HttpPort(), managementPort);
            var port = Assert.Single(ports, p => Yaml.Text(p, "containerPort") == managementPort.ToString());
            var name = Yaml.Text(port, "name");

            Assert.Equal(HealthEndpoints.ReadyPath, Yaml.Text(container, "readinessProbe", "httpGet", "path"));
            Assert.Equal(HealthEndpoints.LivePath, Yaml.Text(container, "livenessProbe", "httpGet", "path"));
            if (Yaml.Get(container, "startupProbe") is not null)
                Assert.Equal(HealthEndpoints.ReadyPath, Yaml.Text(container, "startupProbe", "httpGet", "path"));
            foreach (var probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" }.Where(p => Yaml.Get(container, p) is not null))
                Assert.Contains(Yaml.Text(container, probe, "httpGet", "port"), new[] { name, managementPort.ToString() });

            // Prometheus scrapes the pod on the management port, the only one that serves /metrics.
            var annotations = Pod.Annotations(deployment);
            Assert.Equal("true", annotations["prometheus.io/scrape"]);
            Assert.Equal(managementPort.ToString(), annotations["prometheus.io/port"]);
            Assert.Equal(TelemetryRegistration.MetricsPath, annotations["prometheus.io/path"]);
            foreach (var service in rendered.OfKind("Service").Where(s => rendered.Selected(Yaml.Get(s.Root, "spec", "selector")).Contains(deployment)))
                Assert.All(Yaml.List(service.Root, "spec", "ports"), p =>
                    Assert.DoesNotContain(Yaml.Text(p, "targetPort") ?? Yaml.Text(p, "port"), new[] { name, managementPort.ToString() }));

            // Job views and the consumer group name each replica: the pod's own name, unique and stable.
            Assert.Equal("metadata.name", Yaml.Text(Pod.Variable(container, "Service__InstanceName"), "valueFrom", "fieldRef", "fieldPath"));
        }
    }

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Only_pods_that_load_the_model_get_a_gpu_and_the_weights(string overlay)
    {
        var rendered = await Render(overlay);
        foreach (var deployment in rendered.ServiceDeployments)
        {
            var container = Pod.Container(deployment);
            var pod = Pod.Spec(deployment);
            var role = Pod.Role(container);
            Assert.Contains(role, new[] { ServiceOptions.AllRole, ServiceOptions.ApiRole, ServiceOptions.WorkerRole });
            var weights = Pod.Mount(container, "weights");
            if (Pod.Options(container).RunsWorker)
            {
                Assert.Equal("1", Yaml.Text(container, "resources", "requests", "nvidia.com/gpu"));
                Assert.Equal("1", Yaml.Text(container, "resources", "limits", "nvidia.com/gpu"));
                // Scheduled by the resource; a node label only GPU Feature Discovery sets would leave the pod Pending
                // elsewhere (deploy/components/gpu-node-selector adds it where it exists).
                Assert.DoesNotContain(Yaml.Map(pod, "nodeSelector").Keys, k => k.ToString()!.StartsWith("nvidia.com/", StringComparison.Ordinal));
                Assert.Contains(Yaml.List(pod, "tolerations"), t => Yaml.Text(t, "key") == "nvidia.com/gpu" && Yaml.Text(t, "operator") == "Exists");
                Assert.NotNull(weights);
                Assert.Equal("/weights", Yaml.Text(weights, "mountPath"));
                Assert.Equal("true", Yaml.Text(weights, "readOnly"), ignoreCase: true);
                var claim = Yaml.Text(Pod.Volume(deployment, "weights"), "persistentVolumeClaim", "claimName");
                Assert.Contains(rendered.OfKind("PersistentVolumeClaim"), c => c.Name == claim);

                var startup = int.Parse(Yaml.Text(container, "startupProbe", "periodSeconds")!) * int.Parse(Yaml.Text(container, "startupProbe", "failureThreshold")!);
                Assert.True(startup >= 15 * 60, $"{deployment}: the startup probe allows {startup} s; loading ~40 GB needs at least 15 minutes");
            }
            else
            {
                Assert.Null(Yaml.Get(container, "resources", "requests", "nvidia.com/gpu"));
                Assert.Null(Yaml.Get(container, "resources", "limits", "nvidia.com/gpu"));
                Assert.DoesNotContain(Yaml.List(pod, "tolerations"), t => Yaml.Text(t, "key") == "nvidia.com/gpu");
                Assert.Null(weights);
            }
            Assert.Equal("true", Yaml.Text(pod, "securityContext", "runAsNonRoot"), ignoreCase: true);
        }
    }

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Settings_come_from_the_generated_config_map_and_secrets_from_outside(string overlay)
    {
        var rendered = await Render(overlay);
        foreach (var deployment in rendered.ServiceDeployments)
        {
            var container = Pod.Container(deployment);
            var file = $"appsettings.{Pod.Value(container, "ASPNETCORE_ENVIRONMENT")}.json";
            var mount = Pod.Mount(container, "settings");
            Assert.Equal(file, Yaml.Text(mount, "subPath"));
            Assert.Equal("/app/" + file, Yaml.Text(mount, "mountPath"));
            Assert.NotNull(Settings(rendered, deployment));

            if (Pod.Options(container).RunsApi)
            {
                // Named keys from one Secret made out of band; until then authentication is off and the pods still start.
                var keys = Assert.Single(Yaml.List(container, "envFrom"), e => Yaml.Get(e, "secretRef") is not null);
                Assert.Equal("relation-adapter-api-keys", Yaml.Text(keys, "secretRef", "name"));
                Assert.Equal("true", Yaml.Text(keys, "secretRef", "optional"), ignoreCase: true);
                Assert.Null(Yaml.Get(keys, "prefix"));
                Assert.DoesNotContain(Pod.Env(container), e => Yaml.Text(e, "name")!.StartsWith("Auth__", StringComparison.Ordinal));
            }
        }
        // kubectl apply would put a rendered Secret's placeholder back over the value set out of band.
        Assert.Empty(rendered.OfKind("Secret"));
    }

    [Theory]
    [MemberData(nameof(Rendered.Overlays), MemberType = typeof(Rendered))]
    public async Task Termination_waits_for_the_drain(string overlay)
    {
        var rendered = await Render(overlay);
        foreach (var deployment in rendered.ServiceDeployments)
        {
            var container = Pod.Container(deployment);
            // Precedence as the service reads it: environment, then the mounted appsettings, then the default.
            var configured = Pod.Value(container, "Queue__ShutdownGracePeriod")
                ?? (Settings(rendered, deployment) is { } settings && settings.TryGetProperty("Queue", out var queue) && queue.TryGetProperty("ShutdownGracePeriod", out var value) ? value.GetString() : null);
            var grace = configured is null ? new QueueOptions().ShutdownGracePeriod : TimeSpan.Parse(configured);
            var drainSetting = Pod.Value(container, "Queue__DrainPeriod")
                ?? (Settings(rendered, deployment) is { } more && more.TryGetProperty("Queue", out var q) && q.TryGetProperty("DrainPeriod", out var d) ? d.GetString() : null);
            var drain = (drainSetting is null ? new QueueOptions().DrainPeriod : TimeSpan.Parse(drainSetting)) + grace;

            var preStop = Yaml.List(container, "lifecycle", "preStop", "exec", "command").Select(c => c.ToString()!).ToList();
            var pause = 0;
            if (preStop.Count > 0)
            {
                Assert.Equal("sleep", preStop[0]);
                pause = int.Parse(preStop[1]);
            }

            var termination = int.Parse(Yaml.Text(Pod.Spec(deployment), "terminationGracePeriodSeconds") ?? "30");
            Assert.True(termination >= pause + drain.TotalSeconds + 5,
                $"{deployment}: terminationGracePeriodSeconds {termination} must cover preStop {pause} s + drain and running job {drain.TotalSeconds} s + 5 s");
        }
    }

    [Fact]
    public async Task Single_gpu_runs_everything_in_one_pod_on_the_memory_queue()
    {
        var rendered = await Render("single-gpu");
        var deployment = Assert.Single(rendered.ServiceDeployments);
        var container = Pod.Container(deployment);
        Assert.Equal(ServiceOptions.AllRole, Pod.Role(container));
        Assert.Equal("memory", Pod.Value(container, "Queue__Backend") ?? "memory");
        Assert.Equal("1", Yaml.Text(deployment.Root, "spec", "replicas"));
        Assert.Empty(rendered.OfKind("StatefulSet"));
        Assert.Empty(rendered.OfKind("ScaledObject"));
        Assert.Empty(rendered.OfKind("HorizontalPodAutoscaler"));
        // The names and selector of the earlier single Deployment, which Kubernetes never lets change in place.
        Assert.Equal(AppService, deployment.Name);
        Assert.Equal("inference", Yaml.Text(deployment.Root, "spec", "selector", "matchLabels", "app.kubernetes.io/component"));
    }

    [Theory]
    [MemberData(nameof(ScaleOutOverlays))]
    public async Task Scale_out_splits_api_replicas_from_gpu_workers_over_redis(string overlay)
    {
        var rendered = await Render(overlay);
        Assert.Empty(rendered.InRole(ServiceOptions.AllRole));
        var api = Assert.Single(rendered.InRole(ServiceOptions.ApiRole));
        var worker = Assert.Single(rendered.InRole(ServiceOptions.WorkerRole));
        Assert.True(int.Parse(Yaml.Text(api.Root, "spec", "replicas")!) >= 2, "several API replicas");
        // KEDA sets the count; a replicas field would put it back to that value on every apply.
        Assert.Null(Yaml.Get(worker.Root, "spec", "replicas"));

        foreach (var deployment in new[] { api, worker })
        {
            var container = Pod.Container(deployment);
            Assert.Equal("redis", Pod.Value(container, "Queue__Backend"));
            var connection = Pod.Variable(container, "ConnectionStrings__Redis");
            Assert.NotNull(connection);
            var env = Pod.Env(container);
            var at = env.IndexOf(connection!);
            foreach (var reference in Pod.References(Yaml.Text(connection, "value") ?? ""))
                Assert.True(env.Take(at).Any(e => Yaml.Text(e, "name") == reference),
                    $"{deployment}: ConnectionStrings__Redis uses $({reference}), which must be defined before it to be expanded");
        }
    }

    [Theory]
    [MemberData(nameof(ScaleOutOverlays))]
    public async Task Keda_scales_the_workers_on_the_stream_and_group_the_code_uses(string overlay)
    {
        var rendered = await Render(overlay);
        var worker = Assert.Single(rendered.InRole(ServiceOptions.WorkerRole));
        var scaler = Assert.Single(rendered.OfKind("ScaledObject"));
        Assert.Equal("keda.sh/v1alpha1", scaler.ApiVersion);
        Assert.Equal("Deployment", Yaml.Text(scaler.Root, "spec", "scaleTargetRef", "kind") ?? "Deployment");
        Assert.Equal(worker.Name, Yaml.Text(scaler.Root, "spec", "scaleTargetRef", "name"));
        Assert.DoesNotContain(rendered.OfKind("HorizontalPodAutoscaler"), h => Yaml.Text(h.Root, "spec", "scaleTargetRef", "name") == worker.Name);

        var min = int.Parse(Yaml.Text(scaler.Root, "spec", "minReplicaCount") ?? "0");
        var max = int.Parse(Yaml.Text(scaler.Root, "spec", "maxReplicaCount")!);
        Assert.InRange(min, 0, max);
        Assert.Equal(4, max);

        var triggers = Yaml.List(scaler.Root, "spec", "triggers");
        Assert.NotEmpty(triggers);
        var container = Pod.Container(worker);
        foreach (var trigger in triggers)
        {
            Assert.Equal("redis-streams", Yaml.Text(trigger, "type"));
            Assert.Contains(Yaml.Text(trigger, "metadata", "stream"), new[] { RedisKeys.EditStream, RedisKeys.RelationStream });
            Assert.Equal(RedisKeys.WorkerGroup, Yaml.Text(trigger, "metadata", "consumerGroup"));
            // KEDA resolves *FromEnv names in the scale target's containers.
            var addressFrom = Yaml.Text(trigger, "metadata", "addressFromEnv");
            Assert.True(addressFrom is not null && Pod.Variable(container, addressFrom) is not null,
                $"the scaler reads the address from {addressFrom}, which the worker does not define");
            if (Yaml.Text(trigger, "authenticationRef", "name") is { } authentication)
                rendered.Single("TriggerAuthentication", authentication);
        }

        // Waiting jobs (the group's lag) are what a worker count of 0 can see: pending entries need a worker to exist.
        // Relation requests wake a worker too.
        var jobs = triggers.Where(t => Yaml.Text(t, "metadata", "stream") == RedisKeys.EditStream).ToList();
        var waiting = Assert.Single(jobs, t => Yaml.Get(t, "metadata", "lagCount") is not null);
        var relations = Assert.Single(triggers, t => Yaml.Text(t, "metadata", "stream") == RedisKeys.RelationStream);
        foreach (var lag in new[] { waiting, relations }) Assert.Equal("0", Yaml.Text(lag, "metadata", "activationLagCount") ?? "0");
        var running = Assert.Single(jobs, t => Yaml.Get(t, "metadata", "pendingEntriesCount") is not null);
        Assert.Null(Yaml.Get(running, "metadata", "lagCount"));

        // The formula adds both up; it may only name triggers that exist.
        var formula = Yaml.Text(scaler.Root, "spec", "advanced", "scalingModifiers", "formula")!;
        var names = triggers.Select(t => Yaml.Text(t, "name")).ToHashSet();
        var identifiers = System.Text.RegularExpressions.Regex.Matches(formula, "[A-Za-z_][A-Za-z0-9_]*").Select(m => m.Value).ToList();
        foreach (var counted in new[] { waiting, running, relations }) Assert.Contains(Yaml.Text(counted, "name"), identifiers);
        Assert.All(identifiers, i => Assert.Contains(i, names));
        Assert.True(double.Parse(Yaml.Text(scaler.Root, "spec", "advanced", "scalingModifiers", "target")!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("0", Yaml.Text(scaler.Root, "spec", "advanced", "scalingModifiers", "activationTarget") ?? "0");
    }

    [Theory]
    [InlineData("scale-out")]
    [InlineData("external-redis")]
    public async Task Scale_out_keeps_at_most_one_worker_idle(string overlay)
    {
        var scaler = Assert.Single((await Render(overlay)).OfKind("ScaledObject"));
        Assert.InRange(int.Parse(Yaml.Text(scaler.Root, "spec", "minReplicaCount") ?? "0"), 0, 1);
    }

    [Theory]
    [MemberData(nameof(InClusterRedisOverlays))]
    public async Task Redis_keeps_every_job_on_its_own_volume(string overlay)
    {
        var rendered = await Render(overlay);
        var redis = Assert.Single(rendered.OfKind("StatefulSet"));
        var container = Pod.Container(redis, "redis");
        var image = Yaml.Text(container, "image")!;
        Assert.StartsWith("redis:", image);
        Assert.True(int.Parse(image["redis:".Length..].Split('.', '-')[0]) >= 7, $"{image}: the scaler's lag needs Redis 7");

        var args = Yaml.List(container, "args").Select(a => a.ToString()!).ToList();
        string? Setting(string name) => args.IndexOf("--" + name) is var i and >= 0 && i + 1 < args.Count ? args[i + 1] : null;
        Assert.Equal("yes", Setting("appendonly"));
        Assert.Equal("everysec", Setting("appendfsync"));
        Assert.Equal("noeviction", Setting("maxmemory-policy"));
        var limit = Pod.Bytes(Yaml.Text(container, "resources", "limits", "memory")!);
        Assert.NotNull(Yaml.Get(container, "resources", "requests", "memory"));
        Assert.True(Pod.RedisBytes(Setting("maxmemory")!) < limit, "maxmemory must stay below the memory limit, or the kernel kills Redis before it refuses a write");

        var data = Setting("dir") ?? "/data";
        var mount = Yaml.List(container, "volumeMounts").Single(m => Yaml.Text(m, "mountPath") == data);
        Assert.Contains(Yaml.List(redis.Root, "spec", "volumeClaimTemplates"), t => Yaml.Text(t, "metadata", "name") == Yaml.Text(mount, "name"));

        var headless = rendered.Single("Service", Yaml.Text(redis.Root, "spec", "serviceName")!);
        Assert.Equal("None", Yaml.Text(headless.Root, "spec", "clusterIP"));
        foreach (var probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
        {
            var command = string.Join(' ', Yaml.List(container, probe, "exec", "command"));
            Assert.Contains("redis-cli", command);
            Assert.Contains("ping", command);
        }
    }

    [Theory]
    [MemberData(nameof(InClusterRedisOverlays))]
    public async Task Pods_and_scaler_reach_redis_through_its_service(string overlay)
    {
        var rendered = await Render(overlay);
        var redis = Assert.Single(rendered.OfKind("StatefulSet"));
        var service = Assert.Single(rendered.OfKind("Service"), s => Yaml.Text(s.Root, "spec", "clusterIP") != "None" && rendered.Selected(Yaml.Get(s.Root, "spec", "selector")).Contains(redis));
        var port = Yaml.List(service.Root, "spec", "ports").Single();
        Assert.Contains(Yaml.List(Pod.Container(redis, "redis"), "ports"), p => Yaml.Text(p, "name") == Yaml.Text(port, "targetPort"));

        // KEDA's operator connects from its own namespace: the address must name this one.
        var address = $"{service.Name}.{service.Namespace}.svc:{Yaml.Text(port, "port")}";
        foreach (var deployment in rendered.InRole(ServiceOptions.ApiRole).Concat(rendered.InRole(ServiceOptions.WorkerRole)))
        {
            var container = Pod.Container(deployment);
            var connection = Pod.Value(container, "ConnectionStrings__Redis")!;
            var server = connection.Split(',')[0];
            var expanded = Pod.References(server).Aggregate(server, (text, name) => text.Replace($"$({name})", Pod.Value(container, name)));
            Assert.Equal(address, expanded);
        }
        var worker = Pod.Container(Assert.Single(rendered.InRole(ServiceOptions.WorkerRole)));
        Assert.All(Yaml.List(Assert.Single(rendered.OfKind("ScaledObject")).Root, "spec", "triggers"),
            t => Assert.Equal(address, Pod.Value(worker, Yaml.Text(t, "metadata", "addressFromEnv")!)));
    }

    [Fact]
    public async Task External_redis_comes_from_a_secret_for_pods_and_scaler_alike()
    {
        var rendered = await Render("external-redis");
        Assert.Empty(rendered.OfKind("StatefulSet"));
        Assert.DoesNotContain(rendered.OfKind("Service"), s => s.Name.Contains("redis"));

        Dictionary<object, object>? password = null;
        foreach (var deployment in rendered.InRole(ServiceOptions.ApiRole).Concat(rendered.InRole(ServiceOptions.WorkerRole)))
        {
            var container = Pod.Container(deployment);
            var connection = Pod.Value(container, "ConnectionStrings__Redis");
            Assert.NotNull(connection);
            var references = Pod.References(connection!);
            Assert.Equal(["REDIS_ADDRESS", "REDIS_PASSWORD"], references.Order());
            foreach (var name in references)
                Assert.NotNull(Yaml.Get(Pod.Variable(container, name), "valueFrom", "secretKeyRef"));
            Assert.DoesNotContain(Pod.Env(container), e => Yaml.Get(e, "value") is not null && Yaml.Get(e, "valueFrom") is not null);
            Assert.Contains("ssl=true", connection);
            password = Yaml.Map(Pod.Variable(container, "REDIS_PASSWORD"), "valueFrom", "secretKeyRef");
        }

        var triggers = Yaml.List(Assert.Single(rendered.OfKind("ScaledObject")).Root, "spec", "triggers");
        foreach (var trigger in triggers)
        {
            Assert.Equal("true", Yaml.Text(trigger, "metadata", "enableTLS"));
            var authentication = rendered.Single("TriggerAuthentication", Yaml.Text(trigger, "authenticationRef", "name")!);
            var reference = Yaml.List(authentication.Root, "spec", "secretTargetRef").Single(r => Yaml.Text(r, "parameter") == "password");
            Assert.Equal(Yaml.Text(password, "name"), Yaml.Text(reference, "name"));
            Assert.Equal(Yaml.Text(password, "key"), Yaml.Text(reference, "key"));
        }
    }

    /// <summary>The appsettings file a Deployment mounts, read from the ConfigMap the overlay renders.</summary>
    static JsonElement? Settings(Rendered rendered, Manifest deployment)
    {
        var container = Pod.Container(deployment);
        var map = Yaml.Text(Pod.Volume(deployment, "settings"), "configMap", "name");
        var data = rendered.OfKind("ConfigMap").SingleOrDefault(c => c.Name == map);
        Assert.True(data is not null, $"{deployment} mounts the ConfigMap {map}, which {rendered.Name} does not render");
        var text = Yaml.Text(data!.Root, "data", Yaml.Text(Pod.Mount(container, "settings"), "subPath")!);
        if (text is null) return null;
        using var json = JsonDocument.Parse(text);
        return json.RootElement.Clone();
    }
}
