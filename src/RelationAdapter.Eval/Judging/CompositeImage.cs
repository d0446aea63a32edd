using RelationAdapter.Core.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace RelationAdapter.Eval.Judging;

/// <summary>
/// The judge's picture: a left column with A, A1 (A′) and B from top to bottom, a right column with B1 and B2,
/// each image fitted into an equal cell on white; the right column is centred vertically. Each image carries its
/// name in its top-left corner, as the prompt refers to them by name.
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
        Place(canvas, a, cell, new Point(0, 0), "A");
        Place(canvas, a1, cell, new Point(0, cell.Height), "A1");
        Place(canvas, b, cell, new Point(0, 2 * cell.Height), "B");
        Place(canvas, b1, cell, new Point(cell.Width, cell.Height / 2), "B1");
        Place(canvas, b2, cell, new Point(cell.Width, cell.Height / 2 + cell.Height), "B2");
        return canvas;
    }

    // The five names need four glyphs; a 5 × 7 bitmap each keeps the tool free of a font dependency.
    static readonly Dictionary<char, string[]> Glyphs = new()
    {
        ['A'] = [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        ['B'] = ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."],
        ['1'] = ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
        ['2'] = [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    };

    /// <summary>The pixels of a name's label: black glyphs on a white box, <paramref name="scale"/> pixels per glyph dot.</summary>
    public static Size LabelSize(string name, int scale) => new((name.Length * 6 + 1) * scale, 9 * scale);

    public static int LabelScale(Size cell) => Math.Max(1, Math.Min(cell.Width, cell.Height) / 96);

    static void Label(Image<Rgb24> canvas, string name, Point corner, int scale)
    {
        var box = LabelSize(name, scale);
        for (var y = corner.Y; y < Math.Min(canvas.Height, corner.Y + box.Height); y++)
        for (var x = corner.X; x < Math.Min(canvas.Width, corner.X + box.Width); x++)
            canvas[x, y] = new Rgb24(255, 255, 255);
        for (var letter = 0; letter < name.Length; letter++)
        {
            var rows = Glyphs[name[letter]];
            for (var row = 0; row < rows.Length; row++)
            for (var column = 0; column < rows[row].Length; column++)
            {
                if (rows[row][column] != '#') continue;
                var (left, top) = (corner.X + (1 + letter * 6 + column) * scale, corner.Y + (1 + row) * scale);
                for (var dy = 0; dy < scale; dy++)
                for (var dx = 0; dx < scale; dx++)
                    if (left + dx < canvas.Width && top + dy < canvas.Height) canvas[left + dx, top + dy] = new Rgb24(0, 0, 0);
            }
        }
    }

    static void Place(Image<Rgb24> canvas, Image<Rgb24> image, Size cell, Point corner, string name)
    {
        var placed = ImageGrid.Place(canvas, image, cell, corner);
        Label(canvas, name, placed.Location, LabelScale(cell));
    }
}
