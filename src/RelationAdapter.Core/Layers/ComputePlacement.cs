using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Layers;

/// <summary>
/// Where an encoder runs, and whether it is moved back to the CPU after each use so the DiT keeps the
/// accelerator's memory (it pays a host-to-device copy on the next use).
/// </summary>
public sealed record ComputePlacement(Device Device, bool OffloadAfterUse = false)
{
    /// <summary>Runs <paramref name="use"/> with <paramref name="module"/> on the compute device.</summary>
    public T Use<T>(nn.Module module, Func<T> use)
    {
        if (OffloadAfterUse) module.to(Device);
        try
        {
            return use();
        }
        finally
        {
            if (OffloadAfterUse && Device.type != DeviceType.CPU) module.to(CPU);
        }
    }
}

public static class ModuleSize
{
    /// <summary>Bytes held by a module's parameters and buffers.</summary>
    public static long Bytes(nn.Module module) =>
        module.parameters().Sum(p => p.NumberOfElements * p.ElementSize) + module.buffers().Sum(b => b.NumberOfElements * b.ElementSize);

    public static long Parameters(nn.Module module) => module.parameters().Sum(p => p.NumberOfElements);
}
