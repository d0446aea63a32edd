namespace RelationAdapter.Core.Weights;

/// <summary>A weights file that cannot be read as it claims to be; the message names the file and the problem.</summary>
public sealed class CheckpointFormatException(string file, string problem)
    : Exception($"{file}: {problem}")
{
    public string File { get; } = file;
    public string Problem { get; } = problem;
}
