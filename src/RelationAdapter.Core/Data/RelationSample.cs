namespace RelationAdapter.Core.Data;

/// <summary>
/// One Relation252K sample: the exemplar pair (A → A′), the image to edit (B) and its ground truth (B′).
/// Paths are absolute once read; in a JSON Lines file they are relative to the file.
/// </summary>
/// <param name="Id">Unique in its file and safe as a file name (predictions are saved as <c>&lt;id&gt;.png</c>).</param>
/// <param name="PromptImage">A, the exemplar before the edit (JSON <c>cond1</c>).</param>
/// <param name="ReferenceImage">A′, the exemplar after the edit (JSON <c>cond2</c>).</param>
/// <param name="Source">B, the image to edit (JSON <c>source</c>).</param>
/// <param name="Target">B′, the ground truth (JSON <c>target</c>).</param>
/// <param name="Text">The edit instruction.</param>
/// <param name="Split"><c>seen</c> or <c>unseen</c> (tasks of the training set or not), when known.</param>
public sealed record RelationSample(
    string Id,
    string PromptImage,
    string ReferenceImage,
    string Source,
    string Target,
    string Text,
    string? Task = null,
    string? Category = null,
    string? Split = null)
{
    public IEnumerable<string> ImagePaths => [PromptImage, ReferenceImage, Source, Target];
}

/// <summary>A line (or labels entry) that was skipped, and why.</summary>
/// <param name="File">The JSON Lines or labels.json file.</param>
/// <param name="Line">1-based line of a JSON Lines file, or 1-based entry of a labels.json array.</param>
public sealed record DataIssue(string File, int Line, string Reason)
{
    public override string ToString() => $"{File}:{Line}: {Reason}";
}

/// <summary>The samples read, in file order, and the lines skipped.</summary>
public sealed record RelationDataSet(IReadOnlyList<RelationSample> Samples, IReadOnlyList<DataIssue> Issues);
