namespace RelationAdapter.Eval.Reporting;

/// <summary>A table of the report: a title, a header and rows of cells (already formatted).</summary>
public sealed record Table(string Title, string? Note, IReadOnlyList<string> Header, IReadOnlyList<IReadOnlyList<string>> Rows);

/// <summary>
/// The paper's table shapes for every run side by side: overall, by category (Table 3) and by seen/unseen tasks
/// (Table 2), each cell mean ± std over tasks, the paper's row first and the difference of each later run's mean to the first run's.
/// </summary>
public static class SummaryTables
{
    public static IReadOnlyList<Table> Build(Results results)
    {
        var tables = new List<Table> { Grouped(results, "Overall", null, ["all"], _ => _ => true, _ => null) };
        var categories = results.Rows.Select(r => r.Sample.Category).OfType<string>().Distinct()
            .OrderBy(c => PaperResults.ByCategory.ToList().FindIndex(p => p.Name.Equals(c, StringComparison.OrdinalIgnoreCase)) is var i and >= 0 ? i : int.MaxValue)
            .ThenBy(c => c, StringComparer.Ordinal).ToList();
        tables.Add(categories.Count == 0
            ? new Table("By category (paper, Table 3)", "The data has no categories (eval build --categories F.json fills them).", [], [])
            : Grouped(results, "By category (paper, Table 3)", null, categories, c => r => r.Sample.Category == c, PaperResults.Category));
        var splits = new[] { "seen", "unseen" }.Where(s => results.Rows.Any(r => r.Sample.Split == s)).ToList();
        tables.Add(splits.Count == 0
            ? new Table("Seen / unseen tasks (paper, Table 2)", "The data has no split field.", [], [])
            : Grouped(results, "Seen / unseen tasks (paper, Table 2)", "The paper gives means only.", splits, s => r => r.Sample.Split == s, PaperResults.Split));
        return tables;
    }

    static Table Grouped(Results results, string title, string? note, IReadOnlyList<string> groups, Func<string, Func<ResultRow, bool>> member,
        Func<string, PaperResults.Row?> paper)
    {
        string[] header = ["group", "run", "tasks", "scored samples", .. Metrics.All.Select(Metrics.Label)];
        var rows = new List<IReadOnlyList<string>>();
        foreach (var group in groups)
        {
            if (paper(group) is { } published)
                rows.Add([group, "paper", published.Tasks?.ToString() ?? "", "", .. Metrics.All.Select(m => PaperResults.Format(published.Value(m)))]);
            Summary?[]? first = null;
            foreach (var run in results.Runs)
            {
                var rowsOfGroup = results.Of(run).Where(member(group)).Where(Results.IsScored).ToList();
                var summaries = Metrics.All.Select(m => Metrics.OverTasks(rowsOfGroup, m)).ToArray();
                first ??= summaries;
                var cells = summaries.Select((s, i) => Metrics.Format(s) + Difference(s, first[i], ReferenceEquals(first, summaries)));
                rows.Add([group, run, rowsOfGroup.Select(r => r.Sample.Task ?? "").Distinct().Count().ToString(), rowsOfGroup.Count.ToString(), .. cells]);
            }
        }
        return new Table(title, note, header, rows);
    }

    static string Difference(Summary? value, Summary? reference, bool isReference) =>
        isReference || value is null || reference is null ? "" : $" (Δ {(value.Mean - reference.Mean >= 0 ? "+" : "−")}{Metrics.Format(Math.Abs(value.Mean - reference.Mean))})";
}
