using System.Collections.Concurrent;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Native;

/// <summary>
/// What TorchSharp's public API lacks for zero-copy loading: a tensor over memory it does not own
/// (libtorch's from_blob, reached through LibTorchSharp's own export) and the data pointer of a tensor.
/// </summary>
public static class NativeTensors
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void Deleter(IntPtr data);

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_new(IntPtr data, Deleter deleter, IntPtr dimensions, int dimensionCount,
        sbyte type, sbyte dtype, int deviceType, int deviceIndex, [MarshalAs(UnmanagedType.U1)] bool requiresGrad);

    [DllImport("LibTorchSharp")]
    static extern IntPtr THSTensor_data(IntPtr tensor);

    [DllImport("libc", SetLastError = true)]
    static extern int madvise(IntPtr address, nuint length, int advice);

    const int MadvisePopulateRead = 22;

    static readonly ConcurrentDictionary<IntPtr, MemoryMappedViewAccessor> MappedViews = new();

    // Kept in a static field: native code calls it whenever a mapped tensor is freed.
    static readonly Deleter ReleaseMappedView = data =>
    {
        if (MappedViews.TryRemove(data, out var view))
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
    };

    /// <summary>Whether a file mapping still backs this address: true until the tensor over it is freed.</summary>
    public static bool IsMapped(IntPtr data) => MappedViews.ContainsKey(data);

    /// <summary>The address of a CPU tensor's first element.</summary>
    public static unsafe byte* Data(Tensor tensor)
    {
        if (tensor.device_type != TorchSharp.DeviceType.CPU) throw new ArgumentException("only CPU tensors have a host address.");
        return (byte*)THSTensor_data(tensor.Handle);
    }

    /// <summary>
    /// A CPU tensor over <paramref name="length"/> bytes of a file mapping, copy-on-write (writes stay
    /// private), with its page tables populated up front. The mapping lives until the tensor is freed.
    /// Returns null when the data is not aligned for <paramref name="dtype"/>.
    /// </summary>
    public static unsafe Tensor? MapView(MemoryMappedFile file, long offset, long length, ScalarType dtype, long[] shape, int elementSize)
    {
        var view = file.CreateViewAccessor(offset, length, MemoryMappedFileAccess.CopyOnWrite);
        byte* basePointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
        var data = (IntPtr)(basePointer + view.PointerOffset);
        if (data % elementSize != 0)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            return null;
        }
        madvise((IntPtr)basePointer, (nuint)(length + view.PointerOffset), MadvisePopulateRead); // best effort: faults later otherwise
        MappedViews[data] = view;
        fixed (long* dimensions = shape)
        {
            var handle = THSTensor_new(data, ReleaseMappedView, (IntPtr)dimensions, shape.Length, (sbyte)dtype, (sbyte)dtype, 0, 0, false);
            if (handle == IntPtr.Zero)
            {
                ReleaseMappedView(data);
                throw new InvalidOperationException("libtorch could not create a tensor over the mapped file.");
            }
            return Tensor.UnsafeCreateTensor(handle);
        }
    }
}
