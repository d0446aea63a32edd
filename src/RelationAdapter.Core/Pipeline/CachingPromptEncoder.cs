namespace RelationAdapter.Core.Pipeline;

/// <summary>
/// Reuses the embeddings of recently seen prompts (least recently used evicted beyond the capacity).
/// Returned embeddings belong to the cache: callers must not dispose them, and should encode from one
/// thread (the inference worker), since eviction disposes the evicted tensors.
/// </summary>
public sealed class CachingPromptEncoder : IPromptEncoder, IDisposable
{
    readonly IPromptEncoder inner;
    readonly int capacity;

    public CachingPromptEncoder(IPromptEncoder inner, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        this.inner = inner;
        this.capacity = capacity;
    }

    readonly LinkedList<(string Prompt, PromptEmbedding Embedding)> _recent = new();
    readonly Dictionary<string, LinkedListNode<(string Prompt, PromptEmbedding Embedding)>> _byPrompt = new(StringComparer.Ordinal);
    readonly Lock _gate = new();

    public long Hits { get; private set; }
    public long Misses { get; private set; }

    public PromptEmbedding Encode(string prompt)
    {
        lock (_gate)
        {
            if (_byPrompt.TryGetValue(prompt, out var node))
            {
                Hits++;
                _recent.Remove(node);
                _recent.AddFirst(node);
                return node.Value.Embedding;
            }
            Misses++;
            var embedding = inner.Encode(prompt);
            embedding.HiddenStates.DetachFromDisposeScope();
            embedding.Pooled.DetachFromDisposeScope();
            _byPrompt[prompt] = _recent.AddFirst((prompt, embedding));
            while (_byPrompt.Count > capacity)
            {
                var oldest = _recent.Last!;
                _recent.RemoveLast();
                _byPrompt.Remove(oldest.Value.Prompt);
                oldest.Value.Embedding.Dispose();
            }
            return embedding;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var (_, embedding) in _recent) embedding.Dispose();
            _recent.Clear();
            _byPrompt.Clear();
            (inner as IDisposable)?.Dispose();
        }
    }
}
