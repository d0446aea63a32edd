using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Xml.Linq;
using RelationAdapter.Service.Tests.Support;
using SixLabors.ImageSharp;

namespace RelationAdapter.Service.Tests.Client;

/// <summary>
/// `dotnet pack src/RelationAdapter.Client` into a throwaway feed, and a throwaway console project whose Program.cs is
/// the README's C# snippet, restored from that feed alone (so it compiles against the package, not the repository).
/// The snippet's address (http://localhost:8080) is replaced by the address of the service this fixture starts,
/// the only change made to it.
/// </summary>
public sealed class ClientPackage : IAsyncLifetime
{
    public const string Id = "RelationAdapter.Client";
    public const string Version = "1.0.0";

    readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("ra-client-package-");

    public string Dotnet { get; } = Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet"
        ? host : Processes.Find("dotnet") ?? "dotnet";

    public string Feed => Path.Combine(_root.FullName, "feed");
    public string Package => Path.Combine(Feed, $"{Id}.{Version}.nupkg");
    public string Consumer => Path.Combine(_root.FullName, "consumer");
    public ProcessResult Pack { get; private set; } = null!;
    public ProcessResult ConsumerBuild { get; private set; } = null!;
    public KestrelService Service { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Service = await KestrelService.StartAsync();
        Pack = await Processes.RunAsync(Dotnet, ["pack", Repository.File("src", "RelationAdapter.Client"), "-c", "Release", "-o", Feed, "-nologo"],
            Repository.Root, TimeSpan.FromMinutes(4));
        if (Pack.ExitCode != 0) return;

        Directory.CreateDirectory(Consumer);
        // Outside the repository, so none of its Directory.Build.* apply; packages restored into the throwaway folder,
        // so a package of the same version cached from an earlier run is never used.
        await File.WriteAllTextAsync(Path.Combine(Consumer, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <RestorePackagesPath>{Path.Combine(_root.FullName, "packages")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{Id}" Version="{Version}" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(Consumer, "nuget.config"), $"""
            <configuration>
              <packageSources>
                <clear />
                <add key="feed" value="{Feed}" />
              </packageSources>
            </configuration>
            """);
        var snippet = ReadmeSnippets.Block("OpenAPI document and generated client", "csharp");
        Assert.Contains("\"http://localhost:8080\"", snippet);
        await File.WriteAllTextAsync(Path.Combine(Consumer, "Program.cs"), snippet.Replace("http://localhost:8080", Service.Address.ToString().TrimEnd('/')));
        ConsumerBuild = await Processes.RunAsync(Dotnet, ["build", "-c", "Release", "-o", Path.Combine(Consumer, "out"), "-nologo"],
            Consumer, TimeSpan.FromMinutes(4));
    }

    public async Task DisposeAsync()
    {
        if (Service is not null) await Service.DisposeAsync();
        _root.Delete(recursive: true);
    }
}

/// <summary>The C# client as a NuGet package: what it holds, what it depends on, and the README's snippet built and run against it.</summary>
[Trait("Category", "Service")]
public class ClientPackageTests(ClientPackage package) : IClassFixture<ClientPackage>
{
    [Fact]
    public void The_package_holds_the_client_its_documentation_and_readme()
    {
        Assert.True(package.Pack.ExitCode == 0, package.Pack.ToString());
        using var nupkg = ZipFile.OpenRead(package.Package);
        var entries = nupkg.Entries.Select(entry => entry.FullName).ToHashSet();
        Assert.Contains("lib/net10.0/RelationAdapter.Client.dll", entries);
        Assert.Contains("lib/net10.0/RelationAdapter.Client.xml", entries);
        Assert.Contains("README.md", entries);

        using var nuspecStream = nupkg.GetEntry($"{ClientPackage.Id}.nuspec")!.Open();
        var metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(element => element.Name.LocalName == "metadata");
        string Field(string name) => metadata.Elements().SingleOrDefault(element => element.Name.LocalName == name)?.Value ?? "";
        Assert.Equal(ClientPackage.Id, Field("id"));
        Assert.Equal(ClientPackage.Version, Field("version"));
        Assert.Equal("README.md", Field("readme"));
        Assert.NotEmpty(Field("authors"));
        Assert.Contains("RelationAdapter.Service", Field("description"));
        // Nothing but the framework: the service, its model code and the generator stay out of callers' builds.
        Assert.DoesNotContain(metadata.Descendants(), element => element.Name.LocalName == "dependency");
    }

    [Fact]
    public void The_packaged_client_references_only_the_framework()
    {
        Assert.True(package.Pack.ExitCode == 0, package.Pack.ToString());
        using var nupkg = ZipFile.OpenRead(package.Package);
        using var dll = new MemoryStream();
        using (var entry = nupkg.GetEntry("lib/net10.0/RelationAdapter.Client.dll")!.Open()) entry.CopyTo(dll);
        dll.Position = 0;
        using var pe = new PEReader(dll);
        var reader = pe.GetMetadataReader();
        var references = reader.AssemblyReferences.Select(handle => reader.GetString(reader.GetAssemblyReference(handle).Name)).ToList();

        Assert.All(references, name => Assert.True(name.StartsWith("System", StringComparison.Ordinal) || name == "netstandard",
            $"the client references {name}: {string.Join(", ", references)}"));
    }

    [Fact]
    public async Task The_README_csharp_snippet_builds_against_the_package_and_saves_the_edited_image()
    {
        Assert.True(package.Pack.ExitCode == 0, package.Pack.ToString());
        Assert.True(package.ConsumerBuild.ExitCode == 0, package.ConsumerBuild.ToString());
        Assert.Contains(" 0 Warning(s)", package.ConsumerBuild.Output);

        // Run as the README says: in a folder with the three photos.
        var work = Directory.CreateTempSubdirectory("ra-client-readme-");
        try
        {
            await File.WriteAllBytesAsync(Path.Combine(work.FullName, "before.png"), Api.Before);
            await File.WriteAllBytesAsync(Path.Combine(work.FullName, "after.png"), Api.After);
            await File.WriteAllBytesAsync(Path.Combine(work.FullName, "source.png"), Api.Source);
            var run = await Processes.RunAsync(package.Dotnet, [Path.Combine(package.Consumer, "out", "Consumer.dll")], work.FullName, TimeSpan.FromMinutes(2));

            Assert.True(run.ExitCode == 0, run.ToString());
            Assert.DoesNotContain("urn:relation-adapter:problem", run.Output);
            using var image = await Image.LoadAsync(Path.Combine(work.FullName, "edited.png"));
            var source = Image.Identify(Api.Source); // 96x64: multiples of 16 under the default max_side, so kept as is
            Assert.Equal((source.Width, source.Height), (image.Width, image.Height));
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
