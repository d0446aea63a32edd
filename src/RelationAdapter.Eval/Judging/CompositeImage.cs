using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace RelationAdapter.Eval.Judging;

/// <summary>
/// The judge's picture: a left column with A, A1 (A′) and B from top to bottom, a right column with B1 and B2,
/// each image fitted into an equal cell on white; the right column is centred vertically.
/// </summary>
public static class CompositeImage
{
    public const int DefaultCellSide = 384;

    /// <summary>The cell every image is fitted into: B's aspect, long side <paramref name="cellSide"/>.</summary>
    public static Size CellSize(Image b, int cellSide = DefaultCellSide)
    {
        var scale = (double)cellSide / Math.Max(b.Width, b.Height);
        return new Size(Math.Max(1, (int)Math.Round(b.Width * scale)), Math.Max(1, (int)Math.Round(b.Height * scale)));
    }

    public static Image<Rgb24> Compose(Image<Rgb24> a, Image<Rgb24> a1, Image<Rgb24> b, Image<Rgb24> b1, Image<Rgb24> b2, int cellSide = DefaultCellSide)
    {
        var cell = CellSize(b, cellSide);
        var canvas = new Image<Rgb24>(2 * cell.Width, 3 * cell.Height, new Rgb24(255, 255, 255));
        Place(canvas, a, cell, new Point(0, 0));
        Place(canvas, a1, cell, new Point(0, cell.Height));
        Place(canvas, b, cell, new Point(0, 2 * cell.Height));
        Place(canvas, b1, cell, new Point(cell.Width, cell.Height / 2));
        Place(canvas, b2, cell, new Point(cell.Width, cell.Height / 2 + cell.Height));
        return canvas;
    }

    static void Place(Image<Rgb24> canvas, Image<Rgb24> image, Size cell, Point corner)
    {
        var scale = Math.Min((double)cell.Width / image.Width, (double)cell.Height / image.Height);
        var size = new Size(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale)));
        using var fitted = image.Clone(x => x.Resize(size, KnownResamplers.Bicubic, compand: false));
        var offset = new Point(corner.X + (cell.Width - size.Width) / 2, corner.Y + (cell.Height - size.Height) / 2);
        canvas.Mutate(x => x.DrawImage(fitted, offset, 1f));
    }
}
