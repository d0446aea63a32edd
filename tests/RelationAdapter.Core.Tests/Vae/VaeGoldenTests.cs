using RelationAdapter.Core.Layers;
using RelationAdapter.Core.Tests.Support;
using RelationAdapter.Core.Vae;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Tests.Vae;

[Trait("Category", "Golden")]
public class VaeGoldenTests
{
    [SkippableFact]
    public void Encoder_posterior_and_decoder_match_the_reference()
    {
        using var file = GoldenSet.Case("vae");
        using var scope = NewDisposeScope();
        using var vae = AutoencoderKL.Load(GoldenSet.Resolve("model/vae"), ModuleOptions.CpuFloat32);

        var (mean, std) = vae.Encode(file.Read("image"));
        Close.AssertRelativeL2(mean, file.Read("mean"), what: "mean");
        Close.AssertRelativeL2(std, file.Read("std"), what: "std");
        Close.AssertRelativeL2(vae.Decode(file.Read("latents")), file.Read("decoded"), what: "decoded");
    }

    [SkippableFact]
    public void Tiled_decode_is_plain_decode_for_one_tile_and_stitches_decoded_tiles_otherwise()
    {
        using var file = GoldenSet.Case("vae");
        using var scope = NewDisposeScope();
        using var vae = AutoencoderKL.Load(GoldenSet.Resolve("model/vae"), ModuleOptions.CpuFloat32);
        var latents = file.Read("latents");
        var plain = vae.Decode(latents);
        var tiled = vae.Decode(latents, new VaeTiling(LatentTileSize: (int)Math.Max(latents.shape[2], latents.shape[3])));
        Assert.True(tiled.Same(plain));

        const int tile = 4;
        var smallTiles = vae.Decode(latents, new VaeTiling(LatentTileSize: tile, OverlapFactor: 0.25));
        Assert.Equal(plain.shape, smallTiles.shape);
        // The top-left tile is decoded on its own and kept up to where its neighbours blend in.
        var keep = tile * vae.Config.ScaleFactor * 3 / 4;
        var firstTile = vae.Decode(latents.narrow(2, 0, tile).narrow(3, 0, tile));
        Assert.True(smallTiles.narrow(2, 0, keep).narrow(3, 0, keep).Same(firstTile.narrow(2, 0, keep).narrow(3, 0, keep)));
        Assert.False(smallTiles.Same(plain), "small tiles see less context than the whole latent");
    }
}
