using Microsoft.AspNetCore.Http.HttpResults;
using System.Globalization;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Service.Http;
using RelationAdapter.Service.Jobs;
using RelationAdapter.Service.Options;

namespace RelationAdapter.Service.Endpoints;

/// <summary>A valid edit form: its settings and its files (the pair, or the id of a cached relation).</summary>
public sealed record EditSubmission(EditParameters Parameters, IFormFile Source, IFormFile? PromptImage, IFormFile? ReferenceImage, string? RelationId);

/// <summary>Reads and validates the fields of an edit form (<see cref="EditForm"/>); every problem is reported per field.</summary>
public static class EditFormParser
{
    public const string SourceImage = nameof(EditForm.source_image), PromptImage = nameof(EditForm.prompt_image),
        ReferenceImage = nameof(EditForm.reference_image), RelationId = nameof(EditForm.relation_id);

    /// <summary>The submission, or the validation problem listing every invalid field.</summary>
    public static (EditSubmission? Submission, ValidationProblem? Problem) Read(IFormCollection form, LimitsOptions limits)
    {
        var errors = new Dictionary<string, string[]>();
        var parameters = Parse(form, limits, errors);
        var source = SingleFile(form, SourceImage, errors);
        var promptImage = SingleFile(form, PromptImage, errors);
        var referenceImage = SingleFile(form, ReferenceImage, errors);
        var relationId = form[RelationId].ToString();
        if (source is null) Add(errors, SourceImage, "is required.");
        if (relationId.Length > 0 && (promptImage is not null || referenceImage is not null))
            Add(errors, RelationId, "send either relation_id or the exemplar pair (prompt_image and reference_image), not both.");
        else if (relationId.Length == 0)
        {
            if (promptImage is null) Add(errors, PromptImage, "is required unless relation_id is given.");
            if (referenceImage is null) Add(errors, ReferenceImage, "is required unless relation_id is given.");
        }
        return errors.Count > 0
            ? (null, Problems.Validation(errors))
            : (new EditSubmission(parameters!, source!, promptImage, referenceImage, relationId.Length > 0 ? relationId : null), null);
    }

    static readonly string[] Fields = ["prompt", "steps", "guidance", "adapter_scale", "seed", "max_side", "output_format", "cache_threshold", "relation_id"];

    /// <summary>A relative change of 10 is already far beyond any useful threshold (0.05 to 0.25 are typical).</summary>
    public const double MaxCacheThreshold = 10;

    static EditParameters? Parse(IFormCollection form, LimitsOptions limits, Dictionary<string, string[]> errors)
    {
        // A repeated field would otherwise be read as its values joined by commas ("jpeg,webp").
        foreach (var field in Fields.Where(field => form[field].Count > 1)) Add(errors, field, "must be given once.");
        var prompt = form["prompt"].ToString();
        if (string.IsNullOrWhiteSpace(prompt)) Add(errors, "prompt", "is required.");
        else if (prompt.Length > limits.MaxPromptLength) Add(errors, "prompt", $"is {prompt.Length} characters; the limit is {limits.MaxPromptLength}.");

        var steps = Integer(form, "steps", 24, 1, limits.MaxSteps, errors);
        var guidance = Number(form, "guidance", 3.5, 0, 30, errors);
        var adapterScale = Number(form, "adapter_scale", 1.0, 0, 2, errors);
        var seed = Seed(form, errors);
        var maxSide = Integer(form, "max_side", limits.DefaultMaxSide, 16, limits.MaxSideCap, errors);
        var cacheThreshold = Number(form, "cache_threshold", 0, 0, MaxCacheThreshold, errors);
        if (maxSide % 16 != 0) Add(errors, "max_side", "must be a multiple of 16.");
        var format = OutputFormat.Png;
        var formatText = form["output_format"].ToString();
        // Names only: Enum.TryParse would also take numbers and comma-separated lists.
        if (formatText.Length > 0)
        {
            var named = Enum.GetValues<OutputFormat>().Where(value => value.ToString().Equals(formatText, StringComparison.OrdinalIgnoreCase)).ToList();
            if (named.Count == 1) format = named[0];
            else Add(errors, "output_format", "must be one of png, jpeg or webp.");
        }

        return errors.Count > 0 ? null : new EditParameters(prompt, steps, guidance, adapterScale, seed, maxSide, format, cacheThreshold);
    }

    static int Integer(IFormCollection form, string field, int fallback, int min, int max, Dictionary<string, string[]> errors)
    {
        var text = form[field].ToString();
        if (text.Length == 0) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) Add(errors, field, "must be an integer.");
        else if (value < min || value > max) Add(errors, field, $"must be between {min} and {max}.");
        return value;
    }

    static double Number(IFormCollection form, string field, double fallback, double min, double max, Dictionary<string, string[]> errors)
    {
        var text = form[field].ToString();
        if (text.Length == 0) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value)) Add(errors, field, "must be a number.");
        else if (value < min || value > max) Add(errors, field, $"must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}.");
        return value;
    }

    /// <summary>The largest seed: 2^53 − 1, the largest integer every JSON client (JavaScript's numbers) holds exactly.</summary>
    public const long MaxSeed = (1L << 53) - 1;

    static long Seed(IFormCollection form, Dictionary<string, string[]> errors)
    {
        var text = form["seed"].ToString();
        if (text.Length == 0) return Random.Shared.NextInt64(0, MaxSeed + 1);
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) || seed is < 0 or > MaxSeed)
            Add(errors, "seed", $"must be an integer from 0 to {MaxSeed} (2^53 - 1).");
        return seed;
    }

    /// <summary>Only multipart/form-data carries files (a urlencoded form would fail later, field by field).</summary>
    public static bool IsMultipart(HttpRequest request) =>
        request.HasFormContentType && request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase);

    /// <summary>The one file sent in a field; null (with an error when it was sent more than once) otherwise.</summary>
    public static IFormFile? SingleFile(IFormCollection form, string field, Dictionary<string, string[]> errors)
    {
        var files = form.Files.GetFiles(field);
        if (files.Count > 1) Add(errors, field, "must be one file.");
        return files.Count == 1 ? files[0] : null;
    }

    public static void Add(Dictionary<string, string[]> errors, string field, string message) =>
        errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];
}
