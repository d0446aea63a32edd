using RelationAdapter.Core.Flux;
using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Training;

/// <summary>
/// One unfused LoRA beside a frozen linear layer: branch(x) = (alpha / r) · B A x, with A [r, in] and
/// B [out, r] kept in float32 (float64 for a float64 model) whatever the layer's dtype.
/// </summary>
public sealed class LoraBranch : nn.Module, ILinearBranch
{
    public readonly Parameter lora_A;
    public readonly Parameter lora_B;

    /// <summary>alpha / rank.</summary>
    public double Scale { get; }

    public LoraBranch(long inFeatures, long outFeatures, int rank, double alpha, ScalarType dtype, Device device) : base(nameof(LoraBranch))
    {
        Scale = alpha / rank;
        lora_A = new Parameter(zeros([rank, inFeatures], dtype, device), requires_grad: true);
        lora_B = new Parameter(zeros([outFeatures, rank], dtype, device), requires_grad: true);
        RegisterComponents();
    }

    public Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var down = nn.functional.linear(input.to(lora_A.dtype), lora_A);
        var up = nn.functional.linear(down, lora_B) * Scale;
        return up.to(input.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>B with alpha / r folded in: the file then means what it says at scale 1.</summary>
    public Tensor FoldedB() => lora_B.detach() * Scale;
}

/// <summary>
/// The In-Context Editor's LoRA on a FLUX DiT: a <see cref="LoraBranch"/> on every target module of the
/// released <c>pytorch_lora_weights.safetensors</c> (attention q/k/v/out and the context stream's
/// add_q/k/v/to_add_out, both feed-forwards of the double blocks; q/k/v, proj_mlp and proj_out of the
/// single blocks), named as its keys: <c>transformer.&lt;module&gt;.lora_A.weight</c> / <c>.lora_B.weight</c>.
/// </summary>
public sealed class TransformerLora : IDisposable
{
    public const string Prefix = "transformer.";

    static readonly string[] DoubleBlockTargets =
    [
        "attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_add_out",
        "ff.net.0.proj", "ff.net.2", "ff_context.net.0.proj", "ff_context.net.2",
    ];

    static readonly string[] SingleBlockTargets = ["attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp", "proj_out"];

    readonly List<(string Module, Linear Layer, LoraBranch Branch)> _branches;

    public int Rank { get; }
    public double Alpha { get; }
    public IReadOnlyList<(string Module, LoraBranch Branch)> Branches => _branches.Select(b => (b.Module, b.Branch)).ToList();

    /// <summary>The names of the target modules of <paramref name="transformer"/>, in the file's order of blocks.</summary>
    public static IReadOnlyList<string> TargetModules(FluxTransformer transformer) =>
        Enumerable.Range(0, transformer.transformer_blocks.Count).SelectMany(i => DoubleBlockTargets.Select(t => $"transformer_blocks.{i}.{t}"))
            .Concat(Enumerable.Range(0, transformer.single_transformer_blocks.Count).SelectMany(i => SingleBlockTargets.Select(t => $"single_transformer_blocks.{i}.{t}")))
            .ToList();

    /// <summary>
    /// Attaches fresh branches (A as PEFT draws it, uniform ±1/√in from <paramref name="generator"/>; B = 0, so the model is unchanged).
    /// </summary>
    public TransformerLora(FluxTransformer transformer, int rank, double alpha, Generator generator)
    {
        if (rank < 1) throw new ArgumentOutOfRangeException(nameof(rank), "the LoRA rank must be at least 1.");
        if (!(alpha > 0)) throw new ArgumentOutOfRangeException(nameof(alpha), "the LoRA alpha must be positive.");
        if (transformer.transformer_blocks.Count > 0 && transformer.transformer_blocks[0].attn.to_q.IsFp8)
            throw new InvalidOperationException("LoRA training needs the DiT in its native dtype, not float8.");
        Rank = rank;
        Alpha = alpha;
        var layers = transformer.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        var dtype = Precision.AtLeastFloat32(transformer.DType);
        _branches = TargetModules(transformer).Select(name =>
        {
            var layer = (Linear)layers[name];
            var branch = new LoraBranch(layer.InFeatures, layer.OutFeatures, rank, alpha, dtype, transformer.Device);
            using (no_grad())
                branch.lora_A.uniform_(-1 / Math.Sqrt(layer.InFeatures), 1 / Math.Sqrt(layer.InFeatures), generator);
            layer.Branch = branch;
            return (name, layer, branch);
        }).ToList();
    }

    /// <summary>Every trainable tensor with its key in the released layout (lora_B unfolded).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters() => _branches.SelectMany(b => new[]
    {
        ($"{Prefix}{b.Module}.lora_A.weight", b.Branch.lora_A),
        ($"{Prefix}{b.Module}.lora_B.weight", b.Branch.lora_B),
    });

    /// <summary>The file's tensors: A, and B with alpha / r folded in, in float32 (the caller disposes them).</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> ReleasedLayout() => _branches.SelectMany(b => new[]
    {
        ($"{Prefix}{b.Module}.lora_A.weight", b.Branch.lora_A.detach().to(ScalarType.Float32)),
        ($"{Prefix}{b.Module}.lora_B.weight", b.Branch.FoldedB().to(ScalarType.Float32)),
    }).ToList();

    public void Save(string path)
    {
        var tensors = ReleasedLayout();
        try
        {
            SafetensorsWriting.Write(path, tensors);
        }
        finally
        {
            foreach (var (_, tensor) in tensors) tensor.Dispose();
        }
    }

    /// <summary>
    /// Starts from an existing LoRA in the released layout (fine-tuning): A as stored, B unfolded so that the
    /// branch adds what fusing the file at scale 1 adds. Every target module must be present with this rank.
    /// </summary>
    public void LoadReleased(ITensorSource lora)
    {
        var expected = NamedParameters().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        var unknown = lora.Keys.Where(k => !expected.Contains(k) && !k.EndsWith(".alpha", StringComparison.Ordinal)).ToList();
        var missing = expected.Where(k => !lora.Contains(k)).ToList();
        if (unknown.Count > 0 || missing.Count > 0)
            throw new CheckpointFormatException(lora.ToString() ?? "LoRA",
                (missing.Count > 0 ? $"missing {string.Join(", ", missing.Take(5))}{(missing.Count > 5 ? $" … ({missing.Count} in all)" : "")}. " : "") +
                (unknown.Count > 0 ? $"keys that are no target of this model: {string.Join(", ", unknown.Take(5))}{(unknown.Count > 5 ? $" … ({unknown.Count} in all)" : "")}." : ""));
        using var _ = no_grad();
        foreach (var (module, _, branch) in _branches)
        {
            var a = $"{Prefix}{module}.lora_A.weight";
            var b = $"{Prefix}{module}.lora_B.weight";
            if (!lora.Describe(a).Shape.SequenceEqual(branch.lora_A.shape) || !lora.Describe(b).Shape.SequenceEqual(branch.lora_B.shape))
                throw new CheckpointFormatException(lora.ToString() ?? "LoRA",
                    $"'{module}': lora_A {lora.Describe(a).ShapeText} / lora_B {lora.Describe(b).ShapeText} do not fit rank {Rank} on " +
                    $"[{string.Join(", ", branch.lora_B.shape[0])}, {branch.lora_A.shape[1]}] (--rank must equal the file's rank).");
            var stored = lora.Contains($"{Prefix}{module}.alpha") ? lora.Read($"{Prefix}{module}.alpha").to(ScalarType.Float64).item<double>() / Rank : 1.0;
            lora.CopyInto(a, branch.lora_A);
            lora.CopyInto(b, branch.lora_B);
            branch.lora_B.mul_(stored / branch.Scale);
        }
    }

    /// <summary>Detaches the branches from their layers (the model is its base again).</summary>
    public void Detach()
    {
        foreach (var (_, layer, _) in _branches) layer.Branch = null;
    }

    /// <summary>Attaches the branches again after <see cref="Detach"/>.</summary>
    public void Attach()
    {
        foreach (var (_, layer, branch) in _branches) layer.Branch = branch;
    }

    public void Dispose()
    {
        Detach();
        foreach (var (_, _, branch) in _branches) branch.Dispose();
    }
}
