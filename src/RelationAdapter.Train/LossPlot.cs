using System.Globalization;
using RelationAdapter.Core.Training;

namespace RelationAdapter.Train;

/// <summary>DIR/loss.png from DIR/loss.csv: the loss of every step and its moving average.</summary>
public static class LossPlot
{
    public const string FileName = "loss.png";

    public static void Write(string outputDirectory)
    {
        var csv = Path.Combine(outputDirectory, Trainer.LossFile);
        if (!File.Exists(csv)) return;
        var rows = File.ReadLines(csv).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
            .Select(f => (Step: double.Parse(f[0], CultureInfo.InvariantCulture), Loss: double.Parse(f[1], CultureInfo.InvariantCulture))).ToArray();
        if (rows.Length == 0) return;
        var plot = new ScottPlot.Plot();
        var steps = rows.Select(r => r.Step).ToArray();
        var raw = plot.Add.Scatter(steps, rows.Select(r => r.Loss).ToArray());
        raw.LegendText = "loss";
        raw.MarkerSize = 0;
        var window = Math.Max(1, rows.Length / 20);
        var smooth = plot.Add.Scatter(steps, rows.Select((_, i) => rows[Math.Max(0, i - window + 1)..(i + 1)].Average(r => r.Loss)).ToArray());
        smooth.LegendText = $"mean of {window}";
        smooth.MarkerSize = 0;
        smooth.LineWidth = 2;
        plot.XLabel("step");
        plot.YLabel("flow-matching loss");
        plot.ShowLegend();
        plot.SavePng(Path.Combine(outputDirectory, FileName), 800, 450);
    }
}
