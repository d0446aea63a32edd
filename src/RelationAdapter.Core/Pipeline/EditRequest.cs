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
/// One edit: its <see cref="EditSettings"/> and inputs. Either the exemplar pair or precomputed
/// <see cref="RelationTokens"/> ([1, R, D]); either the settings' prompt or a precomputed
/// <see cref="PromptEmbedding"/>. Precomputed tensors stay owned by the caller.
/// </summary>
public sealed record EditRequest
{
    public required Image<Rgb24> Source { get; init; }

    /// <summary>
    /// More sources edited with the same condition in the same DiT batch (the encoders run once), each as if
    /// edited alone with its seed (<see cref="SourceSeeds"/>). All must have the first source's working size.
    /// </summary>
    public IReadOnlyList<Image<Rgb24>> MoreSources { get; init; } = [];

    /// <summary>The seed of each source, <see cref="Source"/> first; by default the settings' seed + the source's index.</summary>
    public IReadOnlyList<long>? SourceSeeds { get; init; }

    public IReadOnlyList<Image<Rgb24>> Sources => [Source, .. MoreSources];

    public long SeedOf(int index) => SourceSeeds?[index] ?? Settings.Seed + index;
    public Image<Rgb24>? PromptImage { get; init; }
    public Image<Rgb24>? ReferenceImage { get; init; }
    public Tensor? RelationTokens { get; init; }
    public PromptEmbedding? PromptEmbedding { get; init; }
    public EditSettings Settings { get; init; } = new();
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
