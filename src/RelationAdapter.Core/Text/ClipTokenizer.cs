using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace RelationAdapter.Core.Text;

/// <summary>
/// CLIP's BPE tokenizer (OpenAI's simple tokenizer, without ftfy) on Microsoft.ML.Tokenizers: HTML
/// unescaping, whitespace folding and lower-casing, CLIP's pre-tokenisation, byte-level BPE with
/// "&lt;/w&gt;" word ends, then BOS + at most 75 tokens + EOS, padded to 77 with the pad token.
/// </summary>
public sealed partial class ClipTokenizer : ITextTokenizer
{
    public const int ContextLength = 77;
    const string StartOfText = "<|startoftext|>", EndOfText = "<|endoftext|>";

    readonly BpeTokenizer _bpe;

    public int ContentCapacity => ContextLength - 2;

    public int BosId { get; }
    public int EosId { get; }
    public int PadId { get; }

    ClipTokenizer(BpeTokenizer bpe, int bos, int eos, int pad)
    {
        _bpe = bpe;
        BosId = bos;
        EosId = eos;
        PadId = pad;
    }

    /// <param name="dir">A <c>tokenizer/</c> folder with vocab.json, merges.txt and (optionally) special_tokens_map.json.</param>
    public static ClipTokenizer Load(string dir)
    {
        var vocabPath = Path.Combine(dir, "vocab.json");
        var vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabPath))
                         ?? throw new InvalidDataException($"{vocabPath}: empty vocabulary.");
        var merges = File.ReadLines(Path.Combine(dir, "merges.txt"))
            .Where(line => line.Length > 0 && !line.StartsWith("#version", StringComparison.Ordinal));
        var special = new Dictionary<string, int> { [StartOfText] = vocabulary[StartOfText], [EndOfText] = vocabulary[EndOfText] };
        var bpe = BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = true,
            EndOfWordSuffix = "</w>",
            PreTokenizer = new RegexPreTokenizer(WordPattern(), null),
            SpecialTokens = special,
        });
        var pad = PadToken(dir) is { } padToken && vocabulary.TryGetValue(padToken, out var padId) ? padId : vocabulary[EndOfText];
        return new ClipTokenizer(bpe, vocabulary[StartOfText], vocabulary[EndOfText], pad);
    }

    static string? PadToken(string dir)
    {
        var path = Path.Combine(dir, "special_tokens_map.json");
        if (!File.Exists(path)) return null;
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        if (!document.RootElement.TryGetProperty("pad_token", out var pad)) return null;
        return pad.ValueKind == JsonValueKind.String ? pad.GetString() : pad.TryGetProperty("content", out var content) ? content.GetString() : null;
    }

    /// <summary>77 ids; <paramref name="truncated"/> says whether content beyond 75 tokens was dropped.</summary>
    public int[] Encode(string text, out bool truncated)
    {
        var content = _bpe.EncodeToIds(Normalize(text), considerPreTokenization: true, considerNormalization: false);
        truncated = content.Count > ContextLength - 2;
        var ids = new int[ContextLength];
        Array.Fill(ids, PadId);
        ids[0] = BosId;
        var kept = Math.Min(content.Count, ContextLength - 2);
        for (var i = 0; i < kept; i++) ids[i + 1] = content[i];
        ids[kept + 1] = EosId;
        return ids;
    }

    static string Normalize(string text) =>
        Whitespace().Replace(WebUtility.HtmlDecode(WebUtility.HtmlDecode(text)).Trim(), " ").Trim().ToLowerInvariant();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", RegexOptions.IgnoreCase)]
    private static partial Regex WordPattern();
}
