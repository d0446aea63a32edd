using System.Text;

namespace RelationAdapter.Eval.Reporting;

public static class MarkdownReport
{
    public static string Render(Results results, IReadOnlyList<Table> tables)
    {
        var md = new StringBuilder("# Evaluation report\n\n");
        md.Append($"Runs: {string.Join(", ", results.Runs.Select(r => $"`{r}`"))} (Δ: difference of the mean to `{results.Runs[0]}`). ");
        md.Append("Cells are mean ± standard deviation over tasks, each task the mean of its samples, as in the paper. ");
        md.Append("MSE of RGB in [0, 1]; CLIP-I under the CLIP model given to `eval score`; GPT-C / GPT-A from `eval judge` (1–5, both orders averaged).\n");
        foreach (var warning in results.Warnings) md.Append($"\n> **Warning:** {warning}\n");
        foreach (var table in tables)
        {
            md.Append($"\n## {table.Title}\n\n");
            if (table.Note is not null) md.Append(table.Note).Append("\n\n");
            if (table.Header.Count == 0) continue;
            md.Append("| ").AppendJoin(" | ", table.Header).Append(" |\n");
            md.Append('|').Append(string.Concat(Enumerable.Repeat(" --- |", table.Header.Count))).Append('\n');
            foreach (var row in table.Rows) md.Append("| ").AppendJoin(" | ", row.Select(c => c.Replace("|", "\\|"))).Append(" |\n");
        }
        md.Append("\nPer-sample values: `results.csv`; pictures: `report.html`.\n");
        return md.ToString();
    }
}
