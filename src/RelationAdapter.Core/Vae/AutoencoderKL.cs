using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Vae;

/// <summary>Decoding in overlapping tiles (diffusers' algorithm): peak activations are one tile's.</summary>
/// <param name="LatentTileSize">Tile edge in latent cells (the decoded tile is 8× larger).</param>
/// <param name="OverlapFactor">Fraction of a tile shared with its neighbour and blended linearly.</param>
public sealed record VaeTiling(int LatentTileSize = 64, double OverlapFactor = 0.25);

/// <summary>The FLUX VAE (diffusers AutoencoderKL without quant convs).</summary>
public sealed class AutoencoderKL : nn.Module
{
    public readonly Encoder encoder;
    public readonly Decoder decoder;

    public VaeConfig Config { get; }

    public AutoencoderKL(VaeConfig config, ModuleOptions options) : base(nameof(AutoencoderKL))
    {
        if (config.UseQuantConv || config.UsePostQuantConv)
            throw new NotSupportedException("VAEs with quant_conv / post_quant_conv are not FLUX VAEs and are not supported.");
        Config = config;
        encoder = new Encoder(config, options);
        decoder = new Decoder(config, options);
        RegisterComponents();
    }

    public static AutoencoderKL Load(string vaeDir, ModuleOptions options) =>
        ModelLoading.FromFolder(new AutoencoderKL(DiffusersConfig.Read<VaeConfig>(Path.Combine(vaeDir, "config.json")), options), vaeDir);

    Tensor Weight => encoder.conv_in.weight;

    /// <summary>The posterior of an image in [-1, 1]: mean and std (log-variance clamped to [-30, 20]).</summary>
    public (Tensor Mean, Tensor Std) Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var moments = encoder.forward(image.to(Weight.dtype, Weight.device));
        var parts = moments.chunk(2, 1);
        var std = (parts[1].clamp(-30, 20) / 2).exp();
        return (parts[0].MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope());
    }

    /// <summary>mean + std · ε, with ε drawn from <paramref name="generator"/> (on the CPU, as the reference draws it).</summary>
    public static Tensor Sample(Tensor mean, Tensor std, Generator generator)
    {
        using var noise = randn(mean.shape, dtype: mean.dtype, generator: generator);
        using var onDevice = noise.to(mean.device);
        using var scaled = std * onDevice;
        return mean + scaled;
    }

    public Tensor Decode(Tensor latents, VaeTiling? tiling = null)
    {
        using var _ = no_grad();
        var z = latents.to(Weight.dtype, Weight.device);
        try
        {
            return tiling is null || (latents.shape[2] <= tiling.LatentTileSize && latents.shape[3] <= tiling.LatentTileSize)
                ? decoder.forward(z)
                : DecodeTiled(z, tiling);
        }
        finally
        {
            if (!ReferenceEquals(z, latents)) z.Dispose();
        }
    }

    Tensor DecodeTiled(Tensor z, VaeTiling tiling)
    {
        using var scope = NewDisposeScope();
        var latentTile = tiling.LatentTileSize;
        var sampleTile = latentTile * Config.ScaleFactor;
        var stride = (int)(latentTile * (1 - tiling.OverlapFactor));
        var blend = (int)(sampleTile * tiling.OverlapFactor);
        var keep = sampleTile - blend;
        var rows = new List<List<Tensor>>();
        for (long i = 0; i < z.shape[2]; i += stride)
        {
            var row = new List<Tensor>();
            for (long j = 0; j < z.shape[3]; j += stride)
            {
                using var tileScope = NewDisposeScope();
                var tile = z.narrow(2, i, Math.Min(latentTile, z.shape[2] - i)).narrow(3, j, Math.Min(latentTile, z.shape[3] - j));
                row.Add(decoder.forward(tile).MoveToOuterDisposeScope());
            }
            rows.Add(row);
        }
        var resultRows = new List<Tensor>();
        for (var i = 0; i < rows.Count; i++)
        {
            var resultRow = new List<Tensor>();
            for (var j = 0; j < rows[i].Count; j++)
            {
                var tile = rows[i][j];
                if (i > 0) tile = Blend(rows[i - 1][j], tile, blend, dim: 2);
                if (j > 0) tile = Blend(rows[i][j - 1], tile, blend, dim: 3);
                rows[i][j] = tile;
                resultRow.Add(tile.narrow(2, 0, Math.Min(keep, tile.shape[2])).narrow(3, 0, Math.Min(keep, tile.shape[3])));
            }
            resultRows.Add(cat(resultRow, 3));
        }
        return cat(resultRows, 2).MoveToOuterDisposeScope();
    }

    /// <summary>Cross-fades the first <paramref name="extent"/> rows (or columns) of b with the last ones of a.</summary>
    static Tensor Blend(Tensor a, Tensor b, int extent, int dim)
    {
        extent = (int)Math.Min(extent, Math.Min(a.shape[dim], b.shape[dim]));
        if (extent == 0) return b;
        var shape = Enumerable.Repeat(1L, 4).ToArray();
        shape[dim] = extent;
        var weight = (arange(extent, dtype: ScalarType.Float32, device: b.device) / extent).to(b.dtype).view(shape);
        var head = a.narrow(dim, a.shape[dim] - extent, extent) * (1 - weight) + b.narrow(dim, 0, extent) * weight;
        return cat([head, b.narrow(dim, extent, b.shape[dim] - extent)], dim);
    }
}
