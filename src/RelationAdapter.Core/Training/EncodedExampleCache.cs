using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Core.Weights;

namespace RelationAdapter.Core.Training;

/// <summary>
/// Encoder outputs stored once per sample (<c>&lt;key&gt;.safetensors</c>), so later runs and epochs run only
/// the DiT. The key hashes the images' pixels, the instruction, the working size and the model's identity:
/// a changed input or model never reads a stale entry.
/// </summary>
/// <param name="warn">Told of a damaged entry that is encoded again; null: nobody.</param>
public sealed class EncodedExampleCache(string directory, string modelIdentity, Action<string>? warn = null)
{
    public EncodedExample GetOrEncode(EditModels models, TrainingImages sample, int maxSide)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, Key(sample, maxSide) + ".safetensors");
        if (File.Exists(path))
        {
            try
            {
                return Read(path, sample.Id);
            }
            catch (Exception e) when (e is CheckpointFormatException or IOException or KeyNotFoundException or FormatException)
            {
                // A damaged entry (a run killed by the disk filling up, say) is encoded again, not a dead end.
                warn?.Invoke($"cache: {path} is unreadable ({e.Message}); encoding '{sample.Id}' again");
            }
        }
        var example = ExampleEncoding.Encode(models, sample, maxSide);
        var temporary = path + $".tmp-{Guid.NewGuid():N}";
        SafetensorsWriting.Write(temporary, example.Tensors.ToList(), new Dictionary<string, string>
        {
            ["latent_height"] = example.LatentHeight.ToString(CultureInfo.InvariantCulture),
            ["latent_width"] = example.LatentWidth.ToString(CultureInfo.InvariantCulture),
        });
        File.Move(temporary, path, overwrite: true);
        return example;
    }

    static EncodedExample Read(string path, string id)
    {
        // Whatever was read before a damaged part fails is freed with the scope.
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var file = SafetensorsFile.Open(path);
        var example = new EncodedExample(id, file.Read("prompt_hidden_states"), file.Read("prompt_pooled"), file.Read("exemplar_pooled"),
            file.Read("source_mean"), file.Read("source_std"), file.Read("target_mean"), file.Read("target_std"),
            long.Parse(file.Metadata["latent_height"], CultureInfo.InvariantCulture), long.Parse(file.Metadata["latent_width"], CultureInfo.InvariantCulture));
        foreach (var (_, tensor) in example.Tensors) tensor.MoveToOuterDisposeScope();
        return example;
    }

    string Key(TrainingImages sample, int maxSide)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{modelIdentity}\n{maxSide}\n{sample.Text}\n"));
        foreach (var image in new[] { sample.PromptImage, sample.ReferenceImage, sample.Source, sample.Target })
        {
            using var pixels = ImageTensors.ToHwcBytes(image);
            hash.AppendData(pixels.bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
