using System.CommandLine;

namespace RelationAdapter.Eval.Tests.Support;

/// <summary>Runs a verb through the tool's own command line, in process, and keeps what it printed.</summary>
public static class Cli
{
    public static async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var exit = await EvalCommandLine.Create().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = output });
        return (exit, output.ToString());
    }

    public static async Task<string> SucceedAsync(params string[] args)
    {
        var (exit, output) = await RunAsync(args);
        Assert.True(exit == 0, $"eval {string.Join(' ', args)} exited {exit}:\n{output}");
        return output;
    }
}
