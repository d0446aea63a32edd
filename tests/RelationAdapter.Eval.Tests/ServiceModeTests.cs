using RelationAdapter.Core.Imaging;
using RelationAdapter.Eval.Tests.Support;
using SixLabors.ImageSharp;
using RelationAdapter.TestKit;

namespace RelationAdapter.Eval.Tests;

/// <summary><c>eval run --service</c> against the service running as its own process on the tiny preset.</summary>
[Trait("Category", "Eval")]
public sealed class ServiceModeTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("ra-eval-service-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_deployed_service_predicts_what_the_same_composition_predicts_in_process()
    {
        var data = Fixture.WriteJsonl(_root);
        await using var service = await ServiceProcess.StartAsync([]);
        var remote = Path.Combine(_root, "runs", "remote");
        var local = Path.Combine(_root, "runs", "local");

        var output = await Cli.SucceedAsync("run", "--data", data, "--out", remote, "--service", service.Address.ToString(), "--steps", "2", "--parallel", "2");
        await Cli.SucceedAsync("run", "--data", data, "--out", local, "--preset", "tiny", "--device", "cpu", "--steps", "2");

        Assert.Contains("3 predicted", output);
        foreach (var id in new[] { "s1", "s2", "s3" })
        {
            using var fromService = ImageCodec.Decode(File.ReadAllBytes(Path.Combine(remote, "pred", id + ".png")));
            using var inProcess = ImageCodec.Decode(File.ReadAllBytes(Path.Combine(local, "pred", id + ".png")));
            Assert.Equal(inProcess.Size(), fromService.Size());
            Assert.True(Core.Metrics.ImageMetrics.Mse(fromService, inProcess) < 1e-4, $"{id}: the service's edit differs from the in-process one");
        }
        Assert.Contains("all 3 predictions are there", await Cli.SucceedAsync("run", "--data", data, "--out", remote, "--service", service.Address.ToString(), "--steps", "2"));
    }
}
