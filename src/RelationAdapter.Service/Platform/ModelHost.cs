using Microsoft.Extensions.Options;
using RelationAdapter.Core.Composition;
using RelationAdapter.Core.Vae;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

/// <summary><c>Elsewhere</c>: this replica loads no model (the <c>api</c> role); worker replicas run the jobs.</summary>
public enum ModelState { Loading, Ready, Failed, Elsewhere }

/// <summary>What request threads may read of the model's lifetime, as one immutable value.</summary>
public sealed record ModelStatus(ModelState State, LoadedModels? Models, string? LoadError, bool WorkerAlive)
{
    public bool Ready => State == ModelState.Elsewhere || (State == ModelState.Ready && WorkerAlive);
}

/// <summary>
/// Owns the loaded models and their readiness; the inference worker loads them and is their only user.
/// The worker thread is the only writer: it replaces <see cref="Status"/> whole, so a request thread reads
/// either the old or the new status, never a mix (Ready without models).
/// </summary>
public sealed class ModelHost(IOptions<ModelOptions> options, IOptions<ServiceOptions> service, ILogger<ModelHost> logger) : IDisposable
{
    volatile ModelStatus _status = new(service.Value.RunsWorker ? ModelState.Loading : ModelState.Elsewhere, null, null, false);

    /// <summary>
    /// Names the weights that make relation tokens, in relation ids: derived from configuration alone, so every
    /// replica (an <c>api</c> one loads no weights) gives one exemplar pair the same id.
    /// </summary>
    public string AdapterIdentity { get; } = options.Value.IsTiny
        ? $"tiny-preset-r{RandomModelSizes.Tiny.Revision}:{options.Value.TinySeed}" + (options.Value.AdapterPath is { } trained ? $":{Path.GetFileName(trained)}:{options.Value.AdapterRevision}" : "")
        : $"{Path.GetFileName(options.Value.AdapterPath)}:{options.Value.AdapterRevision}";

    public ModelStatus Status => _status;
    public ModelState State => _status.State;
    public string? LoadError => _status.LoadError;
    public LoadedModels? Models => _status.Models;

    /// <summary>The worker started (after a successful load) or stopped consuming work.</summary>
    public void SetWorkerAlive(bool alive) => _status = _status with { WorkerAlive = alive };

    public void Load()
    {
        var settings = options.Value;
        try
        {
            var runtime = RuntimeOptions.ForDevice(settings.Device, settings.OffloadEncoders,
                settings.VaeTiling ? new VaeTiling() : null, settings.PromptCacheCapacity, RuntimeOptions.ParsePrecision(settings.Precision));
            logger.LogInformation("Loading the {Preset} model on {Device}…", settings.Preset, runtime.Device.type);
            var models = settings.IsTiny
                ? ModelFactory.CreateTiny(runtime, settings.TinySeed, settings.AdapterPath, settings.LoraPath)
                : ModelFactory.Load(new ModelPaths(settings.FluxDirectory!, settings.SiglipDirectory!, settings.AdapterPath!, settings.LoraPath), runtime);
            _status = _status with { State = ModelState.Ready, Models = models };
            if (models.IsPlaceholder)
                logger.LogWarning("Model:Preset is 'tiny': a built-in random model with no downloads. Its images are MEANINGLESS; " +
                                  "configure Model:Preset=flux1-dev and the weight paths for real edits.");
            logger.LogInformation("Model ready: {Description}", models.Description);
        }
        catch (Exception e)
        {
            _status = _status with { State = ModelState.Failed, LoadError = e.Message };
            logger.LogCritical(e, "Loading the model failed");
        }
    }

    public void Dispose() => Models?.Dispose();
}
