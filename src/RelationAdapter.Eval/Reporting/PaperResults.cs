namespace RelationAdapter.Eval.Reporting;

/// <summary>The paper's numbers (RelationAdapter, arXiv 2506.02528): mean ± std over tasks, MSE, CLIP-I, GPT-C, GPT-A.</summary>
public static class PaperResults
{
    public sealed record Row(string Name, int? Tasks, Summary Mse, Summary ClipI, Summary? GptC, Summary? GptA)
    {
        public Summary? Value(Metric metric) => metric switch
        {
            Metric.Mse => Mse,
            Metric.ClipI => ClipI,
            Metric.GptC => GptC,
            _ => GptA,
        };
    }

    static Summary S(double mean, double std, int tasks = 0) => new(mean, std, tasks);

    /// <summary>Table 3, by category.</summary>
    public static IReadOnlyList<Row> ByCategory { get; } =
    [
        new("Low-level", 32, S(0.028, 0.038, 32), S(0.885, 0.067, 32), S(3.943, 0.383, 32), S(3.822, 0.406, 32)),
        new("Style transfer", 84, S(0.051, 0.032, 84), S(0.846, 0.036, 84), S(4.077, 0.198, 84), S(4.246, 0.285, 84)),
        new("Image editing", 63, S(0.031, 0.023, 63), S(0.861, 0.055, 63), S(4.173, 0.229, 63), S(4.100, 0.400, 63)),
        new("Customized generation", 39, S(0.065, 0.048, 39), S(0.816, 0.073, 39), S(4.071, 0.224, 39), S(4.064, 0.313, 39)),
    ];

    /// <summary>Table 2, seen and unseen tasks (means only).</summary>
    public static IReadOnlyList<Row> BySplit { get; } =
    [
        new("seen", null, S(0.044, double.NaN), S(0.852, double.NaN), S(4.079, double.NaN), S(4.106, double.NaN)),
        new("unseen", null, S(0.053, double.NaN), S(0.812, double.NaN), S(4.187, double.NaN), S(4.173, double.NaN)),
    ];

    public static Row? Category(string category) =>
        ByCategory.FirstOrDefault(r => string.Equals(r.Name, category, StringComparison.OrdinalIgnoreCase));

    public static Row? Split(string split) => BySplit.FirstOrDefault(r => r.Name == split);

    public static string Format(Summary? summary) =>
        summary is null ? "" : double.IsNaN(summary.Std) ? summary.Mean.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)
            : $"{summary.Mean.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)} ± {summary.Std.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)}";
}
