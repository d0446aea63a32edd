using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>
/// Fuses a diffusers/PEFT LoRA ("transformer.&lt;module&gt;.lora_A.weight" / ".lora_B.weight", optional
/// ".alpha") into the base weights: W ← W + scale · (alpha / r) · B A, computed in float32 and cast back
/// to W's dtype. Keys outside the prefix, unpaired halves and modules the model lacks are errors.
/// </summary>
public static class LoraFuser
{
    const string DownSuffix = ".lora_A.weight", UpSuffix = ".lora_B.weight", AlphaSuffix = ".alpha";

    /// <returns>The number of weights changed.</returns>
    public static int Fuse(nn.Module model, ITensorSource lora, double scale = 1.0, string prefix = "transformer.")
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        var modules = new SortedSet<string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var key in lora.Keys)
        {
            var suffix = new[] { DownSuffix, UpSuffix, AlphaSuffix }.FirstOrDefault(s => key.EndsWith(s, StringComparison.Ordinal));
            if (suffix is null || !key.StartsWith(prefix, StringComparison.Ordinal))
            {
                problems.Add($"unknown key '{key}'");
                continue;
            }
            modules.Add(key[prefix.Length..^suffix.Length]);
        }
        foreach (var module in modules)
        {
            if (!lora.Contains(prefix + module + DownSuffix) || !lora.Contains(prefix + module + UpSuffix))
                problems.Add($"'{module}' lacks lora_A or lora_B");
            else if (!parameters.ContainsKey(module + ".weight"))
                problems.Add($"'{module}' matches no weight of the model");
        }
        if (problems.Count > 0)
            throw new CheckpointFormatException(lora.ToString() ?? "LoRA", "cannot fuse: " + string.Join("; ", problems.Take(20)) +
                                                                          (problems.Count > 20 ? $"; … ({problems.Count - 20} more)" : "") + ".");

        using var _ = no_grad();
        foreach (var module in modules)
        {
            using var scope = NewDisposeScope();
            var weight = parameters[module + ".weight"];
            var down = lora.Read(prefix + module + DownSuffix).to(weight.device).to(ScalarType.Float32);
            var up = lora.Read(prefix + module + UpSuffix).to(weight.device).to(ScalarType.Float32);
            var rank = down.shape[0];
            var alpha = lora.Contains(prefix + module + AlphaSuffix) ? lora.Read(prefix + module + AlphaSuffix).to(ScalarType.Float64).item<double>() : rank;
            var delta = up.matmul(down);
            if (!delta.shape.SequenceEqual(weight.shape))
                throw new CheckpointFormatException(lora.ToString() ?? "LoRA",
                    $"'{module}': B·A has shape [{string.Join(", ", delta.shape)}] but the weight is [{string.Join(", ", weight.shape)}].");
            var fused = weight.to(ScalarType.Float32).add(delta, alpha: scale * alpha / rank);
            weight.copy_(fused.to(weight.dtype));
        }
        return modules.Count;
    }
}
