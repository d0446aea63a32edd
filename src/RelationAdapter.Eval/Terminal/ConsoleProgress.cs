using Spectre.Console;

namespace RelationAdapter.Eval.Terminal;

/// <summary>A progress bar with the elapsed time and an ETA for the long verbs.</summary>
public static class ConsoleProgress
{
    public static Task RunAsync(IAnsiConsole console, string description, int total, Func<ProgressTask, Task> work) =>
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(),
                new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context => await work(context.AddTask(description, maxValue: Math.Max(total, 1))));

    public static void ReportIssues(IAnsiConsole console, IReadOnlyCollection<Core.Data.DataIssue> issues)
    {
        foreach (var issue in issues) console.MarkupLineInterpolated($"[yellow]skipped[/] {issue.ToString()}");
    }
}
