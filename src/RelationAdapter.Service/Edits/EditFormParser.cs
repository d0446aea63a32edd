using Microsoft.AspNetCore.Http.HttpResults;
using System.Globalization;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Jobs.Options;
using RelationAdapter.Service.Platform;
using RelationAdapter.Service.Webhooks;

namespace RelationAdapter.Service.Edits;

/// <summary>A valid edit form: its settings and its files (the pair, or the id of a cached relation).</summary>
public sealed record EditSubmission(EditSettings Settings, OutputFormat OutputFormat, IReadOnlyList<IFormFile> Sources, IFormFile? PromptImage, IFormFile? ReferenceImage,
    string? RelationId, WebhookSubscription? Webhook = null, int Outputs = 1, IReadOnlyDictionary<string, string>? Metadata = null,
    ResponseFormat ResponseFormat = ResponseFormat.Image);

/// <summary>Reads and validates the fields of an edit form (<see cref="EditForm"/>); every problem is reported per field.</summary>
public static class EditFormParser
{
    public const string SourceImage = nameof(EditForm.source_image), PromptImage = nameof(EditForm.prompt_image),
        ReferenceImage = nameof(EditForm.reference_image), RelationId = nameof(EditForm.relation_id), Metadata = nameof(EditForm.metadata);

    /// <summary>The submission, or the validation problem listing every invalid field.</summary>
    public static (EditSubmission? Submission, ValidationProblem? Problem) Read(IFormCollection form, LimitsOptions limits, WebhooksOptions webhooks)
    {
        var errors = new Dictionary<string, string[]>();
        var (settings, format) = Parse(form, limits, errors);
        var sources = form.Files.GetFiles(SourceImage);
        var promptImage = SingleFile(form, PromptImage, errors);
        var referenceImage = SingleFile(form, ReferenceImage, errors);
        var relationId = form[RelationId].ToString();
        if (sources.Count == 0) Add(errors, SourceImage, "is required.");
        else if (sources.Count > limits.MaxSourcesPerEdit)
            Add(errors, SourceImage, $"is {sources.Count} files; one edit takes at most {limits.MaxSourcesPerEdit} (Limits:MaxSourcesPerEdit).");
        if (relationId.Length > 0 && (promptImage is not null || referenceImage is not null))
            Add(errors, RelationId, "send either relation_id or the exemplar pair (prompt_image and reference_image), not both.");
        else if (relationId.Length == 0)
        {
            if (promptImage is null) Add(errors, PromptImage, "is required unless relation_id is given.");
            if (referenceImage is null) Add(errors, ReferenceImage, "is required unless relation_id is given.");
        }
        if (!WebhookSubscription.TryRead(form[WebhookSubscription.UrlField], form[WebhookSubscription.EventsFilterField], webhooks, out var webhook, out var webhookError))
            Add(errors, webhookError.Field, webhookError.Message);
        var outputs = Integer(form, nameof(EditForm.n), limits.Outputs, errors);
        var metadata = EditMetadata.Read(form[Metadata].ToString(), errors);
        var responseFormat = ResponseFormat.Image;
        var responseFormatText = form[nameof(EditForm.response_format)].ToString();
        if (responseFormatText.Length > 0 && !TryParseName(responseFormatText, out responseFormat))
            Add(errors, nameof(EditForm.response_format), "must be image or b64_json.");
        // A repeated field is read as its values joined by commas ("4,5"): its repetition is its one problem, not what that reading makes of it.
        foreach (var field in Fields.Where(field => form[field].Count > 1)) errors[field] = ["must be given once."];
        return errors.Count > 0
            ? (null, Problems.Validation(errors))
            : (new EditSubmission(settings, format, sources, promptImage, referenceImage, relationId.Length > 0 ? relationId : null, webhook, outputs, metadata,
                responseFormat), null);
    }

    /// <summary>The form's single-valued fields: those of <see cref="EditForm"/>, its one definition (the events filter may repeat).</summary>
    static readonly string[] Fields = typeof(EditForm).GetProperties()
        .Where(p => p.PropertyType != typeof(IFormFile) && p.PropertyType != typeof(IFormFileCollection) && p.Name != WebhookSubscription.EventsFilterField)
        .Select(p => p.Name).ToArray();

    /// <summary>The settings and output format; defaults and ranges are the limits' (<see cref="LimitsOptions"/>).</summary>
    static (EditSettings Settings, OutputFormat Format) Parse(IFormCollection form, LimitsOptions limits, Dictionary<string, string[]> errors)
    {
        var prompt = form[nameof(EditForm.prompt)].ToString();
        if (string.IsNullOrWhiteSpace(prompt)) Add(errors, nameof(EditForm.prompt), "is required.");
        // Characters as JSON Schema's maxLength counts them (code points), so an emoji is one, not two UTF-16 units.
        else if (prompt.EnumerateRunes().Count() is var characters && characters > limits.MaxPromptLength)
            Add(errors, nameof(EditForm.prompt), $"is {characters} characters; the limit is {limits.MaxPromptLength}.");

        var settings = new EditSettings
        {
            Prompt = prompt,
            Steps = Integer(form, nameof(EditForm.steps), limits.Steps, errors),
            Guidance = Number(form, nameof(EditForm.guidance), limits.Guidance, errors),
            AdapterScale = Number(form, nameof(EditForm.adapter_scale), limits.AdapterScale, errors),
            Seed = Seed(form, limits.Seed, errors),
            MaxSide = Integer(form, nameof(EditForm.max_side), limits.MaxSide, errors),
            CacheThreshold = Number(form, nameof(EditForm.cache_threshold), limits.CacheThreshold, errors),
        };
        if (settings.MaxSide % EditSettings.SideMultiple != 0) Add(errors, nameof(EditForm.max_side), $"must be a multiple of {EditSettings.SideMultiple}.");

        var format = OutputFormat.Png;
        var formatText = form[nameof(EditForm.output_format)].ToString();
        if (formatText.Length > 0 && !TryParseName(formatText, out format))
            Add(errors, nameof(EditForm.output_format), "must be one of png, jpeg or webp.");
        return (settings, format);
    }

    static int Integer(IFormCollection form, string field, Bounds<int> bounds, Dictionary<string, string[]> errors)
    {
        var text = form[field].ToString();
        if (text.Length == 0) return bounds.Default!.Value;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)) Add(errors, field, "must be an integer.");
        else if (!bounds.Contains(value)) Add(errors, field, $"must be between {bounds.Min} and {bounds.Max}.");
        return value;
    }

    static double Number(IFormCollection form, string field, Bounds<double> bounds, Dictionary<string, string[]> errors)
    {
        var text = form[field].ToString();
        if (text.Length == 0) return bounds.Default!.Value;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value)) Add(errors, field, "must be a number.");
        else if (!bounds.Contains(value))
            Add(errors, field, $"must be between {bounds.Min.ToString(CultureInfo.InvariantCulture)} and {bounds.Max.ToString(CultureInfo.InvariantCulture)}.");
        return value;
    }

    static long Seed(IFormCollection form, Bounds<long> bounds, Dictionary<string, string[]> errors)
    {
        var text = form[nameof(EditForm.seed)].ToString();
        if (text.Length == 0) return Random.Shared.NextInt64(bounds.Min, bounds.Max + 1);
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) || !bounds.Contains(seed))
            Add(errors, nameof(EditForm.seed), $"must be an integer from {bounds.Min} to {bounds.Max} (2^53 - 1).");
        return seed;
    }

    /// <summary>The one file sent in a field; null (with an error when it was sent more than once) otherwise.</summary>
    public static IFormFile? SingleFile(IFormCollection form, string field, Dictionary<string, string[]> errors)
    {
        var files = form.Files.GetFiles(field);
        if (files.Count > 1) Add(errors, field, "must be one file.");
        return files.Count == 1 ? files[0] : null;
    }

    /// <summary>An enum value by its name, in any case. Names only: Enum.TryParse would also take numbers and comma-separated lists.</summary>
    public static bool TryParseName<TEnum>(string text, out TEnum value) where TEnum : struct, Enum
    {
        // The API spells names in snake_case (b64_json); the plain name is taken too.
        var named = Enum.GetValues<TEnum>().Where(candidate => candidate.ToString().Equals(text, StringComparison.OrdinalIgnoreCase) ||
            System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(candidate.ToString()).Equals(text, StringComparison.OrdinalIgnoreCase)).ToList();
        value = named.Count == 1 ? named[0] : default;
        return named.Count == 1;
    }

    public static void Add(Dictionary<string, string[]> errors, string field, string message) =>
        errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];
}
