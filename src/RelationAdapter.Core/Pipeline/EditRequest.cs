using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>Text conditioning: T5 hidden states [1, T, D] and the pooled CLIP vector [1, P].</summary>
public sealed class PromptEmbedding(Tensor hiddenStates, Tensor pooled, IReadOnlyList<string>? warnings = null) : IDisposable
{
    public Tensor HiddenStates { get; } = hiddenStates;
    public Tensor Pooled { get; } = pooled;
    public IReadOnlyList<string> Warnings { get; } = warnings ?? [];

    public void Dispose()
    {
        HiddenStates.Dispose();
        Pooled.Dispose();
    }
}

/// <summary>
/// One edit. Either the exemplar pair or precomputed <see cref="RelationTokens"/> ([1, R, D]); either a
/// prompt or a precomputed <see cref="PromptEmbedding"/>. Precomputed tensors stay owned by the caller.
/// </summary>
public sealed record EditRequest
{
    public required Image<Rgb24> Source { get; init; }
    public Image<Rgb24>? PromptImage { get; init; }
    public Image<Rgb24>? ReferenceImage { get; init; }
    public Tensor? RelationTokens { get; init; }
    public string? Prompt { get; init; }
    public PromptEmbedding? PromptEmbedding { get; init; }
    public int Steps { get; init; } = 24;
    public double Guidance { get; init; } = 3.5;
    public double AdapterScale { get; init; } = 1.0;
    public long Seed { get; init; } = 1000;
    public int MaxSide { get; init; } = 512;

    /// <summary>
    /// First-Block Cache threshold (relative L1 change of the first block's residual below which a step
    /// reuses the other blocks' cached residual). 0 (default) computes every step; larger is faster and less exact.
    /// </summary>
    public double CacheThreshold { get; init; }
}

/// <summary>Denoising steps run through every block, and steps that reused the cached residual.</summary>
public sealed record DenoiseSteps(int Computed, int Reused);

public enum EditStage { EncodePrompt, EncodeRelation, EncodeSource, Denoise, Decode }

/// <summary>
/// Progress of a running edit: reported on entering each stage (step 0; Decode: the total), then after
/// every denoising step (1-based).
/// </summary>
public sealed record EditProgress(EditStage Stage, int Step, int TotalSteps, TimeSpan Elapsed);

/// <summary>The edited image with what produced it.</summary>
public sealed record EditResult(
    Image<Rgb24> Image,
    long Seed,
    int Width,
    int Height,
    IReadOnlyDictionary<EditStage, TimeSpan> StageTimings,
    IReadOnlyList<string> Warnings,
    DenoiseSteps Steps);
