using System.Text.RegularExpressions;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>The fenced code blocks of README.md, which tests compile so the README cannot drift from the code.</summary>
public static partial class ReadmeSnippets
{
    /// <summary>The one block in the given language (```csharp, ```ts) under the README's "## {section}" heading.</summary>
    public static string Block(string section, string language)
    {
        var blocks = Blocks(section, language);
        Assert.True(blocks.Count == 1, $"README.md's '{section}' section should have one ```{language} block, not {blocks.Count}");
        return blocks[0];
    }

    /// <summary>Every block in the given language under the README's "## {section}" heading.</summary>
    public static List<string> Blocks(string section, string language)
    {
        var readme = File.ReadAllText(Repository.File("README.md")).ReplaceLineEndings("\n");
        var heading = readme.IndexOf("\n## " + section + "\n", StringComparison.Ordinal);
        Assert.True(heading >= 0, $"README.md has no '## {section}' section");
        var next = readme.IndexOf("\n## ", heading + 1, StringComparison.Ordinal);
        var text = next < 0 ? readme[heading..] : readme[heading..next];
        return Fence().Matches(text).Where(match => match.Groups["language"].Value == language).Select(match => match.Groups["code"].Value).ToList();
    }

    [GeneratedRegex(@"^```(?<language>[a-z]+)\n(?<code>.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Fence();
}
