using System.Text.Json;
using System.Text.Json.Nodes;

namespace RelationAdapter.Core.Training;

/// <summary>
/// The folders a run writes under its output directory: <c>step-&lt;N&gt;/</c> and <c>final/</c>, each with
/// <see cref="AdapterFile"/>, <see cref="LoraFile"/> (when the run has a LoRA), <see cref="StateFolder"/>
/// and <see cref="InfoFile"/>. A folder is filled under a temporary name and renamed when complete, so a
/// folder with one of these names is always a whole checkpoint.
/// </summary>
public static class TrainingCheckpoints
{
    public const string AdapterFile = "adapter.safetensors", LoraFile = "pytorch_lora_weights.safetensors",
        StateFolder = "training_state", InfoFile = "train.json", FinalName = "final";

    /// <summary>Files in <see cref="StateFolder"/>: the exact trainable parameters, the optimiser's moments, and the step.</summary>
    public const string ParametersFile = "parameters.safetensors", OptimizerFile = "optimizer.safetensors", StateFile = "state.json";

    public static string StepName(int step) => $"step-{step}";

    /// <summary>Fills a temporary folder with <paramref name="fill"/>, then renames it to <paramref name="name"/> (replacing an older one).</summary>
    public static string Write(string outputDirectory, string name, Action<string> fill)
    {
        Directory.CreateDirectory(outputDirectory);
        var temporary = Path.Combine(outputDirectory, $".{name}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temporary);
        try
        {
            fill(temporary);
        }
        catch
        {
            Directory.Delete(temporary, recursive: true);
            throw;
        }
        var final = Path.Combine(outputDirectory, name);
        if (Directory.Exists(final))
        {
            var old = Path.Combine(outputDirectory, $".{name}.old-{Guid.NewGuid():N}");
            Directory.Move(final, old);
            Directory.Move(temporary, final);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(temporary, final);
        }
        return final;
    }

    /// <summary>The step a checkpoint folder holds, from its state file.</summary>
    public static int StepOf(string checkpoint)
    {
        var path = Path.Combine(checkpoint, StateFolder, StateFile);
        if (!File.Exists(path)) throw new InvalidDataException($"{checkpoint} is not a training checkpoint: {StateFolder}/{StateFile} is missing.");
        var state = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
        return state["step"]?.GetValue<int>() ?? throw new InvalidDataException($"{path}: no 'step'.");
    }

    /// <summary>The checkpoint with the highest step under <paramref name="outputDirectory"/>, or null when there is none.</summary>
    public static string? Latest(string outputDirectory)
    {
        if (!Directory.Exists(outputDirectory)) return null;
        return Directory.EnumerateDirectories(outputDirectory)
            .Where(d => Path.GetFileName(d) is var n && (n == FinalName || n.StartsWith("step-", StringComparison.Ordinal)))
            .Where(d => File.Exists(Path.Combine(d, StateFolder, StateFile)))
            .OrderByDescending(StepOf).ThenBy(d => Path.GetFileName(d) == FinalName ? 0 : 1)
            .FirstOrDefault();
    }

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
}
