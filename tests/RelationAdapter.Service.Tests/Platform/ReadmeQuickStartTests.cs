using System.Net;
using System.Text.RegularExpressions;
using RelationAdapter.Service.Tests.Support;

namespace RelationAdapter.Service.Tests.Platform;

/// <summary>The README's quick start works as written: its sample images, its curl commands, bare <c>Prefer: wait</c>.</summary>
[Trait("Category", "Service")]
public class ReadmeQuickStartTests
{
    static string[] CurlCommands() =>
        string.Join("\n", ReadmeSnippets.Blocks("Quick start", "bash")).Replace("\\\n", " ").Split('\n')
            .Select(line => line.Trim()).Where(line => line.StartsWith("curl ", StringComparison.Ordinal)).ToArray();

    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    [Fact]
    public void Every_curl_command_fails_with_the_problem_on_errors_and_its_files_exist()
    {
        var commands = CurlCommands();
        Assert.NotEmpty(commands);
        foreach (var command in commands)
        {
            Assert.Contains("--fail-with-body", command);
            foreach (Match file in Regex.Matches(command, @"=@(\S+)"))
                Assert.True(File.Exists(Repository.File(file.Groups[1].Value)), $"{file.Groups[1].Value} (in: {command})");
        }
    }

    [Fact]
    public async Task The_synchronous_curl_command_saves_an_image_and_a_refused_one_exits_with_the_problem()
    {
        await using var service = await KestrelService.StartAsync();
        var output = Directory.CreateTempSubdirectory("ra-readme-").FullName;
        var command = CurlCommands().First(c => c.Contains("Prefer: wait"))
            .Replace("localhost:8080", service.Address.Authority).Replace("-o edited.png", $"-o {output}/edited.png");

        var run = await Processes.RunAsync("bash", ["-c", command], Repository.Root, Timeout);
        Assert.True(run.ExitCode == 0, run.ToString());
        var png = await File.ReadAllBytesAsync(Path.Combine(output, "edited.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);

        var refused = command.Replace("-F steps=8", "-F steps=0");
        Assert.NotEqual(0, (await Processes.RunAsync("bash", ["-c", refused], Repository.Root, Timeout)).ExitCode);
        Assert.Contains("urn:relation-adapter:problem:validation", File.ReadAllText(Path.Combine(output, "edited.png")));
    }

    [Fact]
    public async Task The_sample_images_are_what_the_documented_command_draws()
    {
        var directory = Directory.CreateTempSubdirectory("ra-samples-").FullName;
        File.Copy(Repository.File("samples", "make.py"), Path.Combine(directory, "make.py"));
        var run = await Processes.RunAsync("python3", ["make.py"], directory, Timeout);
        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var name in new[] { "before.png", "after.png", "source.png" })
            Assert.Equal(File.ReadAllBytes(Repository.File("samples", name)), File.ReadAllBytes(Path.Combine(directory, name)));
    }

    /// <summary>A bare wait takes the default; any longer wait, even past int's range, is capped at Queue:MaxWaitSeconds.</summary>
    [Theory]
    [InlineData("wait", "wait=60")]
    [InlineData("wait=2147483648", "wait=120")]
    [InlineData("respond-async, wait=\"30\"", "wait=30")]
    public async Task Prefer_wait_waits_and_answers_the_image(string prefer, string applied)
    {
        await using var factory = new ServiceFactory();
        var client = await factory.ReadyClientAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/edits") { Content = Api.EditForm() };
        request.Headers.TryAddWithoutValidation("Prefer", prefer);
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(applied, response.Headers.GetValues("Preference-Applied").Single());
    }
}
