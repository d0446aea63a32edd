using static TorchSharp.torch;

namespace RelationAdapter.Core.Weights;

/// <summary>Construct, load, dispose on failure: a model whose loading throws is freed before the exception leaves.</summary>
public static class ModelLoading
{
    /// <summary>Runs <paramref name="load"/> on <paramref name="model"/> and returns the model; disposes it if the load throws.</summary>
    public static T DisposeOnFailure<T>(T model, Action<T> load) where T : IDisposable
    {
        try
        {
            load(model);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads <paramref name="model"/> from the weights folder <paramref name="dir"/> (<see cref="ShardedCheckpoint.Open"/>,
    /// closed afterwards): by name with <see cref="StateDictLoader"/>, or as <paramref name="load"/> says.
    /// </summary>
    public static T FromFolder<T>(T model, string dir, Action<T, ITensorSource>? load = null) where T : nn.Module =>
        DisposeOnFailure(model, m =>
        {
            using var weights = ShardedCheckpoint.Open(dir);
            if (load is null) StateDictLoader.Load(m, weights);
            else load(m, weights);
        });
}
