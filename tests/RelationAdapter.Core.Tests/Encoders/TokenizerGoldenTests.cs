using System.Text.Json;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Text;

namespace RelationAdapter.Core.Tests.Encoders;

[Trait("Category", "Golden")]
public class TokenizerGoldenTests
{
    [SkippableFact]
    public void Clip_tokenizer_gives_the_reference_ids_for_every_prompt()
    {
        var tokenizer = ClipTokenizer.Load(GoldenSet.Resolve("encoders/tokenizer"));
        using var document = JsonDocument.Parse(File.ReadAllText(GoldenSet.Resolve("encoders/cases/clip_tokenizer.json")));
        var cases = document.RootElement.GetProperty("cases").EnumerateArray().ToList();
        Assert.NotEmpty(cases);
        foreach (var item in cases)
        {
            var prompt = item.GetProperty("prompt").GetString()!;
            var expected = item.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.True(expected.SequenceEqual(tokenizer.Encode(prompt, out _)), $"ids differ for \"{prompt}\"");
        }
    }
}
