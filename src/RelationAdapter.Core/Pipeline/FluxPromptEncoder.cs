using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Text;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>
/// FLUX's text conditioning: the T5 encoder's hidden states over the fixed-length (512) padded ids, and
/// CLIP's pooled output over its 77 ids. Truncation is reported as a warning on the result.
/// </summary>
public sealed class FluxPromptEncoder(
    ITextTokenizer clipTokenizer, ClipTextModel clip, ITextTokenizer t5Tokenizer, T5Encoder t5, ComputePlacement placement)
    : IPromptEncoder, IDisposable
{
    public ClipTextModel Clip { get; } = clip;
    public T5Encoder T5 { get; } = t5;

    public PromptEmbedding Encode(string prompt)
    {
        using var scope = NewDisposeScope();
        var warnings = new List<string>();
        var clipIds = clipTokenizer.Encode(prompt, out var clipTruncated);
        if (clipTruncated)
            warnings.Add($"the prompt is longer than CLIP's {clipTokenizer.ContentCapacity} tokens: its pooled embedding ignores the rest.");
        var t5Ids = t5Tokenizer.Encode(prompt, out var t5Truncated);
        if (t5Truncated)
            warnings.Add($"the prompt is longer than T5's {t5Tokenizer.ContentCapacity} tokens: the rest was ignored.");

        var pooled = placement.Use(Clip, () =>
        {
            var (hidden, pooledOutput) = Clip.forward(tensor(clipIds, [1, clipIds.Length]));
            hidden.Dispose();
            return pooledOutput.to(ScalarType.Float32);
        });
        var hiddenStates = T5.forward(tensor(t5Ids, [1, t5Ids.Length]), placement).to(ScalarType.Float32);
        return new PromptEmbedding(hiddenStates.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), warnings);
    }

    public void Dispose()
    {
        Clip.Dispose();
        T5.Dispose();
    }
}
