using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>
/// Loads a module's parameters and buffers by name: module names equal checkpoint keys (after an
/// optional prefix), so there is no translation table. Every parameter must be found and every key
/// under the prefix must be used, otherwise the error lists the offending names.
/// </summary>
public static class StateDictLoader
{
    public static void Load(nn.Module module, ITensorSource source, string prefix = "",
        Func<string, bool>? ignoreUnused = null)
    {
        var targets = module.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(module.named_buffers())
            .ToList();
        var missing = targets.Where(t => !source.Contains(prefix + t.Item1)).Select(t => prefix + t.Item1).ToList();
        if (missing.Count > 0)
            throw new CheckpointFormatException(source.ToString() ?? "checkpoint",
                $"missing {missing.Count} key(s): {Preview(missing)}.");

        var used = targets.Select(t => prefix + t.Item1).ToHashSet(StringComparer.Ordinal);
        var unused = source.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !used.Contains(k)
                                            && !(ignoreUnused?.Invoke(k) ?? false)).ToList();
        if (unused.Count > 0)
            throw new CheckpointFormatException(source.ToString() ?? "checkpoint",
                $"{unused.Count} key(s) match no parameter of {module.GetType().Name}: {Preview(unused)}.");

        using var _ = no_grad();
        foreach (var (name, tensor) in targets)
            source.CopyInto(prefix + name, tensor);
    }

    static string Preview(IReadOnlyCollection<string> names) =>
        string.Join(", ", names.Order(StringComparer.Ordinal).Take(20)) + (names.Count > 20 ? $", … ({names.Count - 20} more)" : "");
}
