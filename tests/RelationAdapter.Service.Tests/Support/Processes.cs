using System.Diagnostics;
using System.Text;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>What a finished command printed.</summary>
public sealed record ProcessResult(string Command, int ExitCode, string Output)
{
    /// <summary>The command, its exit code and its output, for assertion messages.</summary>
    public override string ToString() => $"`{Command}` exited {ExitCode}:\n{Output}";
}

/// <summary>Runs the command-line tools some tests drive (dotnet, npm, node) and collects their output.</summary>
public static class Processes
{
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> arguments, string workingDirectory,
        TimeSpan timeout, IDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) start.Environment[name] = value;
        var command = $"{file} {string.Join(' ', start.ArgumentList)}";

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) lock (output) output.AppendLine(line.Data); };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) lock (output) output.AppendLine(line.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{command}` ran past {timeout}:\n{output}");
        }
        process.WaitForExit(); // drains the redirected output
        lock (output) return new ProcessResult(command, process.ExitCode, output.ToString());
    }

    /// <summary>The full path of an executable on PATH, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(directory => Path.Combine(directory, name))
        .FirstOrDefault(File.Exists);
}
