using TorchSharp;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Layers;

/// <summary>Where and in which dtype a module's parameters are allocated (meta: shapes only).</summary>
public sealed record ModuleOptions(Device Device, ScalarType DType)
{
    public static ModuleOptions CpuFloat32 { get; } = new(CPU, ScalarType.Float32);
    public static ModuleOptions Meta { get; } = new(new Device(DeviceType.META), ScalarType.Float32);

    /// <summary>An uninitialised parameter: weights are always loaded (or seeded) after construction.</summary>
    public TorchSharp.Modules.Parameter Parameter(params long[] shape) =>
        new(empty(shape, DType, Device), requires_grad: false);
}
