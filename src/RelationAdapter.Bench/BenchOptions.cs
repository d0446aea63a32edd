using System.Globalization;

namespace RelationAdapter.Bench;

/// <summary>"--name value" pairs.</summary>
public sealed class BenchOptions(Dictionary<string, string> values)
{
    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i + 1 < args.Length; i += 2)
            values[args[i].TrimStart('-')] = args[i + 1];
        return new BenchOptions(values);
    }

    public int Int(string name, int fallback) => values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public long Long(string name, long fallback) => values.TryGetValue(name, out var v) ? long.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public double Double(string name, double fallback) => values.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
    public string String(string name, string fallback) => values.TryGetValue(name, out var v) ? v : fallback;
    public bool Bool(string name, bool fallback) => values.TryGetValue(name, out var v) ? bool.Parse(v) : fallback;

    /// <summary>
    /// <c>--device cpu|cuda</c> (default <paramref name="fallback"/>); false, having said why, when CUDA is asked
    /// for and libtorch has no CUDA device.
    /// </summary>
    public bool TryDevice(TextWriter output, string fallback, out bool onCuda)
    {
        onCuda = String("device", fallback) switch
        {
            "cpu" => false,
            "cuda" => true,
            var other => throw new ArgumentException($"unknown device '{other}': use cpu or cuda."),
        };
        if (!onCuda || TorchSharp.torch.cuda.is_available()) return true;
        output.WriteLine("--device cuda: no CUDA device is available to libtorch.");
        return false;
    }
}

public static class Measure
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>The process's peak resident set (VmHWM) in bytes, from /proc (Linux).</summary>
    public static long PeakRss() => ProcStatus("VmHWM:");

    public static long CurrentRss() => ProcStatus("VmRSS:");

    static long ProcStatus(string key)
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
        return line is null ? -1 : long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    public static string Gb(double bytes) => $"{bytes / 1e9:F2} GB";

    /// <summary>GB, or MB below 0.1 GB (the tiny preset's sizes).</summary>
    public static string Size(double bytes) => bytes >= 1e8 ? Gb(bytes) : $"{bytes / 1e6:F3} MB";

    /// <summary>Relative L2 error ||actual - expected|| / ||expected||, in float64 on the CPU.</summary>
    public static double RelativeL2(TorchSharp.torch.Tensor actual, TorchSharp.torch.Tensor expected)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var a = actual.to(TorchSharp.torch.ScalarType.Float64).cpu();
        var e = expected.to(TorchSharp.torch.ScalarType.Float64).cpu();
        return (a - e).norm().item<double>() / Math.Max(e.norm().item<double>(), 1e-300);
    }
}
