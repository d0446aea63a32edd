using Microsoft.Extensions.Options;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Vae;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Hosting;

public enum ModelState { Loading, Ready, Failed }

/// <summary>Owns the loaded models; the inference worker loads them and is their only user.</summary>
public sealed class ModelHost(IOptions<ModelOptions> options, ILogger<ModelHost> logger) : IDisposable
{
    public ModelState State { get; private set; } = ModelState.Loading;
    public string? LoadError { get; private set; }
    public LoadedModels? Models { get; private set; }
    public bool WorkerAlive { get; set; }

    public void Load()
    {
        var settings = options.Value;
        try
        {
            var runtime = RuntimeOptions.ForDevice(settings.Device, settings.OffloadEncoders,
                settings.VaeTiling ? new VaeTiling() : null, settings.PromptCacheCapacity, RuntimeOptions.ParsePrecision(settings.Precision));
            logger.LogInformation("Loading the {Preset} model on {Device}…", settings.Preset, runtime.Device.type);
            Models = settings.IsTiny
                ? ModelFactory.CreateTiny(runtime, settings.TinySeed)
                : ModelFactory.Load(new ModelPaths(settings.FluxDirectory!, settings.SiglipDirectory!, settings.AdapterPath!, settings.LoraPath), runtime);
            State = ModelState.Ready;
            if (Models.IsPlaceholder)
                logger.LogWarning("Model:Preset is 'tiny': a built-in random model with no downloads. Its images are MEANINGLESS; " +
                                  "configure Model:Preset=flux1-dev and the weight paths for real edits.");
            logger.LogInformation("Model ready: {Description}", Models.Description);
        }
        catch (Exception e)
        {
            State = ModelState.Failed;
            LoadError = e.Message;
            logger.LogCritical(e, "Loading the model failed");
        }
    }

    public void Dispose() => Models?.Dispose();
}
