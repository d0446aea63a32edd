using System.Text.RegularExpressions;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Deployment;

/// <summary>The files under deploy/ hold together: they parse, what they name exists, the README lists them.</summary>
[Trait("Category", "Deploy")]
public class DeploymentManifestTests
{
    static readonly string Deploy = Repository.File("deploy");

    static IEnumerable<string> Kustomizations() => Directory.GetFiles(Deploy, "kustomization.yaml", SearchOption.AllDirectories);

    static IEnumerable<string> Folders(string under) => Directory.GetDirectories(Path.Combine(Deploy, under)).Select(d => Path.GetFileName(d)!);

    [Fact]
    public void Every_manifest_parses_and_names_its_kind()
    {
        var files = Directory.GetFiles(Deploy, "*.yaml", SearchOption.AllDirectories);
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
        foreach (var kustomization in Kustomizations())
        {
            var folder = Path.GetDirectoryName(kustomization)!;
            var root = Manifest.LoadAll(kustomization).Single().Root;
            foreach (var reference in Yaml.List(root, "resources").Concat(Yaml.List(root, "components")).Select(r => (string)r))
                Assert.True(File.Exists(Path.Combine(folder, reference)) || Directory.Exists(Path.Combine(folder, reference)), $"{kustomization}: {reference}");
            foreach (var generator in Yaml.List(root, "configMapGenerator"))
                foreach (var file in Yaml.List(generator, "files"))
                    Assert.True(File.Exists(Path.Combine(folder, (string)file)), $"{kustomization}: {file}");
            foreach (var patch in Yaml.List(root, "patches").Select(p => Yaml.Text(p, "path")).OfType<string>())
                Assert.True(File.Exists(Path.Combine(folder, patch)), $"{kustomization}: {patch}");
        }
    }

    [Fact]
    public void The_readme_names_every_overlay_and_component()
    {
        var readme = File.ReadAllText(Repository.File("README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf("\n## Kubernetes\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Kubernetes' section");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = end < 0 ? readme[start..] : readme[start..end];
        foreach (var overlay in Folders("overlays"))
            Assert.Contains($"deploy/overlays/{overlay}", section);
        foreach (var component in Folders("components"))
            Assert.Contains($"deploy/components/{component}", section);
    }

    [Theory]
    [InlineData("single-gpu")]
    [InlineData("scale-out")]
    public async Task Download_weights_fills_the_volume_before_any_pod_loads_the_model(string layout)
    {
        var rendered = await Rendered.ComposedAsync(layout, ["download-weights"]);
        var job = Assert.Single(rendered.OfKind("Job"));
        var download = Pod.Container(job, "download");
        var marker = Regex.Match(string.Join('\n', Yaml.List(download, "args")), @"touch (\S+)").Groups[1].Value;
        Assert.NotEmpty(marker);
        var written = Yaml.List(download, "volumeMounts").Single();
        Assert.NotEqual("true", Yaml.Text(written, "readOnly")?.ToLowerInvariant());
        var claimName = Yaml.Text(Pod.Volume(job, Yaml.Text(written, "name")!), "persistentVolumeClaim", "claimName")!;
        var claim = rendered.Single("PersistentVolumeClaim", claimName);
        Assert.Equal(["ReadWriteMany"], Yaml.List(claim.Root, "spec", "accessModes").Select(m => m.ToString()));
        Assert.Equal(claim.Namespace, job.Namespace);

        Assert.Contains(rendered.ServiceDeployments, d => Pod.Options(Pod.Container(d)).RunsWorker);
        foreach (var deployment in rendered.ServiceDeployments)
        {
            var inits = Yaml.List(Pod.Spec(deployment), "initContainers");
            if (!Pod.Options(Pod.Container(deployment)).RunsWorker)
            {
                Assert.Empty(inits);
                continue;
            }
            var wait = Assert.Single(inits);
            Assert.Contains($"-f {marker} ", string.Join(' ', Yaml.List(wait, "args")) + " ");
            var read = Yaml.List(wait, "volumeMounts").Single();
            Assert.Equal(Yaml.Text(written, "mountPath"), Yaml.Text(read, "mountPath"));
            Assert.Equal(claimName, Yaml.Text(Pod.Volume(deployment, Yaml.Text(read, "name")!), "persistentVolumeClaim", "claimName"));
        }
    }
}
