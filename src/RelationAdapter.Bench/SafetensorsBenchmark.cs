using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RelationAdapter.Core.Weights;
using static TorchSharp.torch;

namespace RelationAdapter.Bench;

/// <summary>
/// Writes a multi-GB bf16 safetensors file, then times a plain sequential read of it and a load of every
/// tensor (Open + Read: copy-on-write views of the mapped file with their pages populated, ready to
/// compute with or copy to a GPU), and reports the process's peak RSS. Both reads find the file in the
/// page cache (it was just written), so they compare the readers, not the disk. A third line times
/// loading into fresh float32 tensors (a dtype conversion, as a CPU float32 model does).
/// </summary>
public static class SafetensorsBenchmark
{
    const long TensorBytes = 64L << 20;

    public static void Run(BenchOptions options)
    {
        var gigabytes = options.Double("gb", 4);
        var folder = Directory.CreateTempSubdirectory("ra-bench-").FullName;
        var path = Path.Combine(folder, "weights.safetensors");
        try
        {
            var size = Write(path, (long)(gigabytes * 1e9));
            Console.WriteLine($"file: {path}, {Measure.Gb(size)} (bf16, {TensorBytes >> 20} MiB tensors)");

            using (ones(1)) { } // load libtorch before anything is timed
            var plain = Enumerable.Range(0, 2).Select(_ => PlainRead(path)).Min();
            var rssBefore = Measure.CurrentRss();
            var (load, tensors) = Load(path);
            var peak = Measure.PeakRss();
            var checksum = Checksum(tensors);
            foreach (var t in tensors) t.Dispose();
            var converted = LoadAsFloat32(path);

            Console.WriteLine($"plain sequential read : {size / plain / 1e9:F2} GB/s ({plain:F2} s)");
            Console.WriteLine($"SafetensorsFile load  : {size / load / 1e9:F2} GB/s ({load:F2} s)");
            Console.WriteLine($"load / plain          : {plain / load:F2} (target >= 0.80); checksum {checksum:X}");
            Console.WriteLine($"load into float32     : {size / converted / 1e9:F2} GB/s ({converted:F2} s; fresh memory is written, which this machine pages in slowly)");
            Console.WriteLine($"RSS before load       : {Measure.Gb(rssBefore)}");
            Console.WriteLine($"peak RSS              : {Measure.Gb(peak)} = {(double)peak / size:F3} x file size (target <= 1.10)");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    static long Write(string path, long targetBytes)
    {
        var count = Math.Max(1, targetBytes / TensorBytes);
        var header = new Dictionary<string, object>();
        for (var i = 0; i < count; i++)
            header[$"layer.{i}.weight"] = new { dtype = "BF16", shape = new[] { TensorBytes / 2 / 4096, 4096 }, data_offsets = new[] { i * TensorBytes, (i + 1) * TensorBytes } };
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(BitConverter.GetBytes((long)json.Length));
        stream.Write(json);
        var block = new byte[TensorBytes];
        new Random(7).NextBytes(block);
        for (var i = 0; i < count; i++) stream.Write(block);
        return stream.Length;
    }

    static double PlainRead(string path)
    {
        var buffer = new byte[16 << 20];
        var clock = Stopwatch.StartNew();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        while (stream.Read(buffer, 0, buffer.Length) > 0) { }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Proves the views hold the file's bytes (and are readable) by summing a sample of each.</summary>
    static long Checksum(List<Tensor> tensors)
    {
        long sum = 0;
        foreach (var t in tensors)
        {
            using var first = t.view(-1).narrow(0, 0, 1024).to(ScalarType.Float32).sum();
            sum = sum * 31 + BitConverter.SingleToInt32Bits(first.item<float>());
        }
        return sum;
    }

    static double LoadAsFloat32(string path)
    {
        var clock = Stopwatch.StartNew();
        using var file = SafetensorsFile.Open(path);
        foreach (var key in file.Keys.Take(8))
        {
            var entry = file.Describe(key);
            using var target = empty(entry.Shape, ScalarType.Float32);
            file.CopyInto(key, target);
        }
        var bytes = file.Keys.Take(8).Sum(k => file.Describe(k).ElementCount * 2);
        return clock.Elapsed.TotalSeconds * new FileInfo(path).Length / bytes;
    }

    static (double Seconds, List<Tensor> Tensors) Load(string path)
    {
        var clock = Stopwatch.StartNew();
        using var file = SafetensorsFile.Open(path);
        var tensors = file.Keys.Order(StringComparer.Ordinal).Select(file.Read).ToList();
        return (clock.Elapsed.TotalSeconds, tensors);
    }
}
