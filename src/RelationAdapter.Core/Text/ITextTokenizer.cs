namespace RelationAdapter.Core.Text;

/// <summary>A tokenizer that always returns the model's fixed sequence length (special tokens and padding included).</summary>
public interface ITextTokenizer
{
    /// <summary>The most content tokens that fit; longer prompts are truncated.</summary>
    int ContentCapacity { get; }

    int[] Encode(string text, out bool truncated);
}
