using System.Collections;
using System.IO.Compression;
using Razorvine.Pickle;
using RelationAdapter.Core.Native;
using TorchSharp;
using Razorvine.Pickle.Objects;
using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>
/// A <c>torch.save</c> zip checkpoint (for example the RelationAdapter's <c>ip_adapter-100000.bin</c>)
/// read as a flat set of tensors. The pickle is interpreted only far enough to learn each tensor's
/// storage, dtype, offset, size and stride; tensor bytes stay in the zip until <see cref="CopyInto"/>
/// streams them into their destination, so a multi-GB file is never held in managed memory.
/// Nested dicts become dotted keys ("image_proj" → {"proj.0.weight"} is "image_proj.proj.0.weight");
/// a leading "module." (DataParallel) is dropped from every level.
/// </summary>
public sealed class TorchZipCheckpoint : ITensorSource
{
    readonly string _path;
    readonly ZipArchive _zip;
    readonly string _archivePrefix;
    readonly Dictionary<string, StoredTensor> _tensors;

    sealed record StoredTensor(TensorEntry Entry, string StorageKey, long StorageOffset, long[] Stride, int ElementSize);

    TorchZipCheckpoint(string path, ZipArchive zip, string archivePrefix, Dictionary<string, StoredTensor> tensors)
    {
        _path = path;
        _zip = zip;
        _archivePrefix = archivePrefix;
        _tensors = tensors;
    }

    public IReadOnlyCollection<string> Keys => _tensors.Keys;

    public static TorchZipCheckpoint Open(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: checkpoint not found.", path);
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException) { throw new CheckpointFormatException(path, "not a zip archive (torch.save zip format expected; legacy pickles are not supported)."); }
        try
        {
            var pickle = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                         ?? throw new CheckpointFormatException(path, "no <archive>/data.pkl entry.");
            var prefix = pickle.FullName[..^"data.pkl".Length];
            object root;
            using (var stream = pickle.Open())
            using (var unpickler = new TorchUnpickler())
            {
                try { root = unpickler.load(stream); }
                catch (PickleException e) { throw new CheckpointFormatException(path, $"data.pkl could not be read ({e.Message})."); }
            }
            var tensors = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
            Flatten(path, root, "", tensors);
            return new TorchZipCheckpoint(path, zip, prefix, tensors);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    static void Flatten(string path, object node, string prefix, Dictionary<string, StoredTensor> into)
    {
        switch (node)
        {
            case RebuiltTensor tensor:
                var name = prefix.TrimEnd('.');
                var entry = new TensorEntry(name, tensor.Storage.Type.DType, tensor.Size, path);
                into[name] = new StoredTensor(entry, tensor.Storage.Key, tensor.Offset, tensor.Stride, tensor.Storage.Type.ElementSize);
                break;
            case IDictionary dictionary:
                foreach (DictionaryEntry item in dictionary)
                {
                    var key = item.Key.ToString()!;
                    if (key.StartsWith("module.", StringComparison.Ordinal)) key = key["module.".Length..];
                    Flatten(path, item.Value!, prefix + key + ".", into);
                }
                break;
            default:
                throw new CheckpointFormatException(path, $"'{prefix.TrimEnd('.')}' holds a {node?.GetType().Name ?? "null"}, not a tensor or a dict of tensors.");
        }
    }

    public bool Contains(string key) => _tensors.ContainsKey(key);

    public TensorEntry Describe(string key) => Stored(key).Entry;

    StoredTensor Stored(string key) =>
        _tensors.TryGetValue(key, out var stored) ? stored : throw new KeyNotFoundException($"{_path}: no tensor named '{key}'.");

    public Tensor Read(string key)
    {
        var stored = Stored(key);
        return TensorCopy.NewFilled(stored.Entry, tensor => Fill(stored, tensor));
    }

    public void CopyInto(string key, Tensor destination)
    {
        var stored = Stored(key);
        TensorCopy.Into(stored.Entry, destination, target => Fill(stored, target), () => Read(key));
    }

    void Fill(StoredTensor stored, Tensor destination)
    {
        var entryName = _archivePrefix + "data/" + stored.StorageKey;
        var zipEntry = _zip.GetEntry(entryName)
                       ?? throw new CheckpointFormatException(_path, $"storage '{entryName}' of tensor '{stored.Entry.Name}' is missing.");
        var contiguous = IsContiguous(stored.Entry.Shape, stored.Stride);
        var byteOffset = stored.StorageOffset * stored.ElementSize;
        var byteCount = stored.Entry.ElementCount * stored.ElementSize;
        if (!contiguous)
        {
            // A strided view of a larger storage: read the storage once, then gather.
            var storageElements = zipEntry.Length / stored.ElementSize;
            using var storage = empty(storageElements, stored.Entry.DType);
            ReadRange(zipEntry, 0, storage, stored);
            using var view = storage.as_strided(stored.Entry.Shape, stored.Stride, stored.StorageOffset);
            destination.copy_(view);
            return;
        }
        if (byteOffset + byteCount > zipEntry.Length)
            throw new CheckpointFormatException(_path, $"tensor '{stored.Entry.Name}' runs past the end of its storage.");
        ReadRange(zipEntry, byteOffset, destination, stored);
    }

    /// <summary>Streams the bytes into the tensor's memory in chunks (a Span addresses at most 2 GiB).</summary>
    static unsafe void ReadRange(ZipArchiveEntry entry, long byteOffset, Tensor destination, StoredTensor stored)
    {
        using var stream = entry.Open();
        Skip(stream, byteOffset);
        var target = NativeTensors.Data(destination);
        var total = destination.NumberOfElements * stored.ElementSize;
        const int chunk = 64 << 20;
        for (long done = 0; done < total; done += chunk)
            stream.ReadExactly(new Span<byte>(target + done, (int)Math.Min(chunk, total - done)));
    }

    static void Skip(Stream stream, long count)
    {
        if (count == 0) return;
        if (stream.CanSeek) { stream.Seek(count, SeekOrigin.Current); return; }
        var buffer = new byte[81920];
        while (count > 0)
        {
            var read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, count));
            if (read == 0) throw new EndOfStreamException();
            count -= read;
        }
    }

    static bool IsContiguous(long[] shape, long[] stride)
    {
        long expected = 1;
        for (var i = shape.Length - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    public void Dispose() => _zip.Dispose();

    public override string ToString() => _path;

    // ----- the pickle subset torch.save emits -----

    sealed record StorageType(string Name, ScalarType DType, int ElementSize) : IObjectConstructor
    {
        public object construct(object[] args) => throw new PickleException($"torch.{Name} cannot be constructed directly.");
    }

    sealed record StorageRef(StorageType Type, string Key);

    sealed record RebuiltTensor(StorageRef Storage, long Offset, long[] Size, long[] Stride);

    sealed class RebuildTensor : IObjectConstructor
    {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        public object construct(object[] args) =>
            new RebuiltTensor((StorageRef)args[0], Convert.ToInt64(args[1]), Longs(args[2]), Longs(args[3]));

        static long[] Longs(object tuple) => ((object[])tuple).Select(Convert.ToInt64).ToArray();
    }

    /// <summary>An OrderedDict; its pickled state (the _metadata attribute) is ignored.</summary>
    sealed class OrderedDictionary : Hashtable
    {
        public void __setstate__(Hashtable state) { }
    }

    sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args) => new OrderedDictionary();
    }

    sealed class TorchUnpickler : Unpickler
    {
        static readonly StorageType[] StorageTypes =
        [
            new("FloatStorage", ScalarType.Float32, 4), new("HalfStorage", ScalarType.Float16, 2),
            new("BFloat16Storage", ScalarType.BFloat16, 2), new("DoubleStorage", ScalarType.Float64, 8),
            new("LongStorage", ScalarType.Int64, 8), new("IntStorage", ScalarType.Int32, 4),
            new("ShortStorage", ScalarType.Int16, 2), new("CharStorage", ScalarType.Int8, 1),
            new("ByteStorage", ScalarType.Byte, 1), new("BoolStorage", ScalarType.Bool, 1),
        ];

        public TorchUnpickler()
        {
            foreach (var type in StorageTypes) registerConstructor("torch", type.Name, type);
            registerConstructor("torch._utils", "_rebuild_tensor_v2", new RebuildTensor());
            registerConstructor("collections", "OrderedDict", new OrderedDictConstructor());
        }

        // pid = ('storage', storage_type, key, location, numel)
        protected override object persistentLoad(object pid)
        {
            if (pid is object[] { Length: >= 3 } tuple && tuple[0] as string == "storage")
            {
                if (tuple[1] is StorageType type) return new StorageRef(type, tuple[2].ToString()!);
                var typeName = tuple[1] is ClassDictConstructor c ? $"{c.module}.{c.name}" : tuple[1]?.ToString();
                throw new PickleException($"unsupported storage type {typeName}");
            }
            throw new PickleException("unsupported persistent id");
        }
    }
}
