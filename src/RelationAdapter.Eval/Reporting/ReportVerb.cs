using RelationAdapter.Eval.Runs;
using Spectre.Console;

namespace RelationAdapter.Eval.Reporting;

/// <summary><c>eval report DIR… [--judge J…] --out R</c>: report.md, report.html and results.csv.</summary>
public sealed class ReportVerb(IAnsiConsole console)
{
    public int Run(IReadOnlyList<RunFolder> runs, IReadOnlyList<string> judgeDirectories, string outDirectory)
    {
        var names = runs.Select(r => r.Name).ToList();
        if (names.Distinct().Count() != names.Count) throw new ArgumentException($"runs need distinct folder names: {string.Join(", ", names)}.");
        var results = Results.Load(runs, judgeDirectories);
        var tables = SummaryTables.Build(results);
        Directory.CreateDirectory(outDirectory);
        File.WriteAllText(Path.Combine(outDirectory, "results.csv"), results.ToCsv());
        File.WriteAllText(Path.Combine(outDirectory, "report.md"), MarkdownReport.Render(results, tables));
        File.WriteAllText(Path.Combine(outDirectory, "report.html"), HtmlReport.Render(results, tables));
        foreach (var warning in results.Warnings) console.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
        console.WriteLine($"{results.Rows.Count} row(s) of {runs.Count} run(s): {Path.GetFullPath(outDirectory)}/report.md, report.html, results.csv");
        return 0;
    }
}
