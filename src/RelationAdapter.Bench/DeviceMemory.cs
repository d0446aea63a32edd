using System.Runtime.InteropServices;

namespace RelationAdapter.Bench;

/// <summary>
/// GPU memory in use on device 0, sampled every millisecond by NVML (what nvidia-smi reports: the CUDA
/// context plus everything PyTorch's caching allocator holds). TorchSharp exposes none of the
/// allocator's statistics, and TorchScript compiled outside Python cannot reach torch.cuda's memory
/// functions (compiling one aborts the process), so the device-wide figure is the one measured.
/// </summary>
public sealed class DeviceMemory : IDisposable
{
    const string Nvml = "libnvidia-ml.so.1";

    [StructLayout(LayoutKind.Sequential)]
    struct MemoryInfo
    {
        public ulong Total, Free, Used;
    }

    [DllImport(Nvml, EntryPoint = "nvmlInit_v2")] static extern int Init();
    [DllImport(Nvml, EntryPoint = "nvmlShutdown")] static extern int Shutdown();
    [DllImport(Nvml, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")] static extern int DeviceByIndex(uint index, out IntPtr device);
    [DllImport(Nvml, EntryPoint = "nvmlDeviceGetMemoryInfo")] static extern int GetMemoryInfo(IntPtr device, out MemoryInfo memory);

    readonly IntPtr _device;
    readonly Thread _sampler;
    volatile bool _stopped;
    long _peak;

    DeviceMemory(IntPtr device)
    {
        _device = device;
        Baseline = Used;
        _peak = Baseline;
        _sampler = new Thread(Sample) { IsBackground = true, Name = "nvml-sampler" };
        _sampler.Start();
    }

    /// <summary>A monitor of device 0, or null where NVML is missing or finds no GPU.</summary>
    public static DeviceMemory? TryStart()
    {
        try
        {
            return Init() == 0 && DeviceByIndex(0, out var device) == 0 ? new DeviceMemory(device) : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Bytes in use when the monitor started (before any model: the CUDA context, if any).</summary>
    public long Baseline { get; }

    public long Used => GetMemoryInfo(_device, out var info) == 0 ? (long)info.Used : -1;

    /// <summary>The highest use sampled since the start or the last <see cref="ResetPeak"/>.</summary>
    public long Peak
    {
        get
        {
            Observe(Used);
            return Interlocked.Read(ref _peak);
        }
    }

    public void ResetPeak() => Interlocked.Exchange(ref _peak, Used);

    void Sample()
    {
        while (!_stopped)
        {
            Observe(Used);
            Thread.Sleep(1);
        }
    }

    void Observe(long used)
    {
        long seen;
        while (used > (seen = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, used, seen) != seen) { }
    }

    public void Dispose()
    {
        _stopped = true;
        _sampler.Join();
        Shutdown();
    }
}
