using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Flux;

/// <summary>Sizes of a RelationAdapter checkpoint, read from its tensor shapes.</summary>
public sealed record RelationAdapterConfig(long ImageDim, long CrossDim, long TokensPerImage, long InnerDim, int AttentionLayers)
{
    /// <summary>The released checkpoint on FLUX.1-dev with SigLIP-SO400M.</summary>
    public static RelationAdapterConfig Flux1Dev { get; } = new(1152, 4096, 128, 3072, 57);

    public static RelationAdapterConfig FromCheckpoint(ITensorSource source)
    {
        var first = source.Describe("image_proj.proj.0.weight").Shape;
        var crossDim = source.Describe("image_proj.norm.weight").Shape[0];
        var second = source.Describe("image_proj.proj.2.weight").Shape;
        var layers = 0;
        while (source.Contains($"ip_adapter.{layers}.to_k_ip.weight")) layers++;
        if (layers == 0) throw new CheckpointFormatException(source.ToString() ?? "adapter", "no 'ip_adapter.0.to_k_ip.weight'.");
        var inner = source.Describe("ip_adapter.0.to_k_ip.weight").Shape[0];
        return new RelationAdapterConfig(first[1], crossDim, second[0] / crossDim, inner, layers);
    }
}

/// <summary>
/// The RelationAdapter checkpoint as one module: "image_proj" (MLPProjModel) and "ip_adapter.{i}"
/// (to_k_ip / to_v_ip of attention layer i: the double blocks first, then the single blocks).
/// </summary>
public sealed class RelationAdapterModel : nn.Module
{
    public readonly ImageProjection image_proj;
    public readonly TorchSharp.Modules.ModuleList<RelationAttention> ip_adapter;

    public RelationAdapterConfig Config { get; }

    /// <summary>
    /// Where the adapter computes. With offloading it lives on the CPU (5.3 GB in bf16 for FLUX.1-dev):
    /// image_proj visits the GPU while a relation is encoded, and each layer's to_k_ip/to_v_ip in turn
    /// while a job's keys and values are projected (once per job). Null: wherever the weights are.
    /// </summary>
    public ComputePlacement? Placement { get; set; }

    public RelationAdapterModel(RelationAdapterConfig config, ModuleOptions options) : base(nameof(RelationAdapterModel))
    {
        Config = config;
        image_proj = new ImageProjection(config.ImageDim, config.CrossDim, config.TokensPerImage, options);
        ip_adapter = nn.ModuleList(Enumerable.Range(0, config.AttentionLayers)
            .Select(_ => new RelationAttention(config.CrossDim, config.InnerDim, options)).ToArray());
        RegisterComponents();
    }

    /// <summary>
    /// The relation tokens of one exemplar pair: each image's pooled SigLIP vector projected on its own,
    /// then read as one sequence, the "before" image's tokens first: [1, 2·tokens, crossDim].
    /// </summary>
    public Tensor RelationTokens(Tensor promptImagePooled, Tensor referenceImagePooled)
    {
        using var scope = NewDisposeScope();
        var pooled = cat([promptImagePooled.reshape(1, -1), referenceImagePooled.reshape(1, -1)], 0);
        Tensor Project() => image_proj.forward(pooled.to(image_proj.norm.weight!.dtype, image_proj.norm.weight.device));
        var perImage = Placement is { } placement ? placement.Use(image_proj, Project) : Project();
        return perImage.reshape(1, -1, Config.CrossDim).MoveToOuterDisposeScope();
    }

    /// <summary>K' and V' of every attention layer for a batch of relation-token sequences.</summary>
    /// <param name="relationTokens">[B, R, crossDim].</param>
    /// <param name="scales">Adapter scale alpha per sample.</param>
    public IReadOnlyList<RelationKeysValues> Project(Tensor relationTokens, long heads, IReadOnlyList<double> scales)
    {
        if (scales.Count != relationTokens.shape[0])
            throw new ArgumentException($"{scales.Count} adapter scales for a batch of {relationTokens.shape[0]}.");
        var weight = ip_adapter[0].to_k_ip.weight;
        var device = Placement?.Device ?? weight.device;
        using var tokens = relationTokens.to(weight.dtype, device);
        using var scale = scales.All(s => s == 1.0) ? null
            : tensor(scales.Select(s => (float)s).ToArray(), device: device).to(weight.dtype).view(-1, 1, 1, 1);
        return ip_adapter.Select(layer => Placement is { } placement
            ? placement.Use(layer, () => layer.Project(tokens, heads, scale))
            : layer.Project(tokens, heads, scale)).ToList();
    }
}
