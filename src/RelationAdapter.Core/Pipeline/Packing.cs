using static TorchSharp.torch;

namespace RelationAdapter.Core.Pipeline;

/// <summary>FLUX's 2×2 latent packing and the position ids of the packed tokens.</summary>
public static class Packing
{
    /// <summary>[B, C, h, w] → [B, (h/2)(w/2), 4C]: each token holds a 2×2 patch, channel-major.</summary>
    public static Tensor Pack(Tensor latents)
    {
        var (b, c, h, w) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3]);
        using var patches = latents.view(b, c, h / 2, 2, w / 2, 2).permute(0, 2, 4, 1, 3, 5);
        return patches.reshape(b, h / 2 * (w / 2), c * 4);
    }

    /// <summary>The inverse of <see cref="Pack"/> for a latent grid of h×w cells.</summary>
    public static Tensor Unpack(Tensor tokens, long h, long w)
    {
        var (b, channels) = (tokens.shape[0], tokens.shape[2]);
        using var patches = tokens.view(b, h / 2, w / 2, channels / 4, 2, 2).permute(0, 3, 1, 4, 2, 5);
        return patches.reshape(b, channels / 4, h, w);
    }

    /// <summary>Ids (0, row, column) of the (h/2)×(w/2) packed tokens: [(h/2)(w/2), 3].</summary>
    public static Tensor ImageIds(long h, long w)
    {
        using var scope = NewDisposeScope();
        var rows = arange(h / 2, dtype: ScalarType.Float32).view(-1, 1).expand(h / 2, w / 2);
        var columns = arange(w / 2, dtype: ScalarType.Float32).view(1, -1).expand(h / 2, w / 2);
        var ids = stack([zeros_like(rows), rows, columns], -1).reshape(-1, 3);
        return ids.MoveToOuterDisposeScope();
    }

    /// <summary>Position-encoding cloning: the noise tokens and the condition tokens share the same ids.</summary>
    public static Tensor ClonedImageIds(long h, long w)
    {
        using var ids = ImageIds(h, w);
        return cat([ids, ids], 0);
    }
}
