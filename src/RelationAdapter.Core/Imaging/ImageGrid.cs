using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Core.Imaging;

/// <summary>Images laid out in equal cells on white, each fitted into its cell (aspect kept, centred).</summary>
public static class ImageGrid
{
    /// <summary>Draws <paramref name="image"/> fitted into the cell at <paramref name="corner"/>; returns where it landed.</summary>
    public static Rectangle Place(Image<Rgb24> canvas, Image<Rgb24> image, Size cell, Point corner)
    {
        var scale = Math.Min((double)cell.Width / image.Width, (double)cell.Height / image.Height);
        var size = new Size(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale)));
        using var fitted = image.Clone(x => x.Resize(size, KnownResamplers.Bicubic, compand: false));
        var offset = new Point(corner.X + (cell.Width - size.Width) / 2, corner.Y + (cell.Height - size.Height) / 2);
        canvas.Mutate(x => x.DrawImage(fitted, offset, 1f));
        return new Rectangle(offset, size);
    }

    /// <summary>One row of cells per entry of <paramref name="rows"/>, as wide as the longest row.</summary>
    public static Image<Rgb24> Rows(IReadOnlyList<IReadOnlyList<Image<Rgb24>>> rows, Size cell)
    {
        var columns = rows.Count == 0 ? 1 : Math.Max(1, rows.Max(r => r.Count));
        var canvas = new Image<Rgb24>(columns * cell.Width, Math.Max(1, rows.Count) * cell.Height, new Rgb24(255, 255, 255));
        for (var row = 0; row < rows.Count; row++)
        for (var column = 0; column < rows[row].Count; column++)
            Place(canvas, rows[row][column], cell, new Point(column * cell.Width, row * cell.Height));
        return canvas;
    }
}
