using System.Text.Json;
using RelationAdapter.Core.Text;

namespace RelationAdapter.Core.Tests.Encoders;

/// <summary>
/// Against a tiny unigram model trained with Debian's sentencepiece (TestData/t5-tiny/make.sh), whose
/// spm_encode produced the expected ids.
/// </summary>
[Trait("Category", "Encoders")]
public class T5TokenizerTests
{
    static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "TestData", "t5-tiny");

    public static TheoryData<string, int[]> Expected()
    {
        var data = new TheoryData<string, int[]>();
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "expected_ids.json")));
        foreach (var item in document.RootElement.EnumerateArray())
            data.Add(item.GetProperty("prompt").GetString()!, item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        return data;
    }

    [Theory]
    [MemberData(nameof(Expected))]
    public void Pieces_equal_spm_encode(string prompt, int[] expected)
    {
        var tokenizer = T5Tokenizer.Load(Path.Combine(Folder, "spiece.model"));
        Assert.Equal(expected, tokenizer.Pieces(prompt));
    }

    [Fact]
    public void Encode_appends_eos_and_pads_with_zero_to_the_length()
    {
        var tokenizer = T5Tokenizer.Load(Path.Combine(Folder, "spiece.model"), length: 16);
        var pieces = tokenizer.Pieces("a photo of a cat");
        var ids = tokenizer.Encode("a photo of a cat", out var truncated);
        Assert.False(truncated);
        Assert.Equal(16, ids.Length);
        Assert.Equal(pieces, ids.Take(pieces.Count));
        Assert.Equal(T5Tokenizer.EosId, ids[pieces.Count]);
        Assert.All(ids.Skip(pieces.Count + 1), id => Assert.Equal(T5Tokenizer.PadId, id));
    }

    [Fact]
    public void Long_prompts_are_truncated_keeping_eos()
    {
        var tokenizer = T5Tokenizer.Load(Path.Combine(Folder, "spiece.model"), length: 8);
        var ids = tokenizer.Encode("remove the background; keep only the subject", out var truncated);
        Assert.True(truncated);
        Assert.Equal(8, ids.Length);
        Assert.Equal(T5Tokenizer.EosId, ids[^1]);
        Assert.Equal(tokenizer.Pieces("remove the background; keep only the subject").Take(7), ids.Take(7));
    }
}
