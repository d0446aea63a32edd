using System.Text;

namespace RelationAdapter.Core.Text;

/// <summary>
/// The tiny preset's stand-in tokenizer: each lower-cased word hashed (FNV-1a) into the vocabulary,
/// with optional BOS, an EOS and padding. Deterministic, needs no files; its ids mean nothing.
/// </summary>
public sealed class ToyTokenizer(int vocabularySize, int length, int? bosId, int eosId, int padId) : ITextTokenizer
{
    const int Reserved = 3;

    public int ContentCapacity => length - 1 - (bosId is null ? 0 : 1);

    public int[] Encode(string text, out bool truncated)
    {
        var words = text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        truncated = words.Length > ContentCapacity;
        var ids = new List<int>(length);
        if (bosId is { } bos) ids.Add(bos);
        ids.AddRange(words.Take(ContentCapacity).Select(Hash));
        ids.Add(eosId);
        while (ids.Count < length) ids.Add(padId);
        return [.. ids];
    }

    int Hash(string word)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(word)) hash = (hash ^ b) * 16777619u;
        return Reserved + (int)(hash % (uint)(vocabularySize - 2 * Reserved));
    }
}
