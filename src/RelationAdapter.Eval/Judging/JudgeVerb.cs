using RelationAdapter.Core.Data;
using RelationAdapter.Core.Imaging;
using RelationAdapter.Eval.Runs;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using RelationAdapter.Eval.Terminal;
using Spectre.Console;

namespace RelationAdapter.Eval.Judging;

/// <summary>GPT-C (consistency) and GPT-A (accuracy) of one run's prediction of one sample, averaged over both orders.</summary>
public sealed record RunJudgement(double? GptC, double? GptA);

/// <summary>One line of <c>judgments.jsonl</c>: both orders' raw answers (or why they are missing) and the averaged scores per run.</summary>
public sealed record Judgement
{
    public required string Id { get; init; }

    /// <summary>Run name → scores.</summary>
    public required Dictionary<string, RunJudgement> Runs { get; init; }

    /// <summary>The answer with the first run as B1, then the one with it as B2; null where missing.</summary>
    public required string?[] Answers { get; init; }

    public string?[] Failures { get; init; } = [];

    public bool Complete => Answers.All(a => a is not null);
}

/// <summary>What <c>J/judge.json</c> records about a judgement folder.</summary>
/// <param name="RunsStarted">When each run folder was made (<see cref="RunManifest.Started"/>): one made again in the same place holds other predictions.</param>
public sealed record JudgeManifest(string[] Runs, string[] RunNames, string Model, string Endpoint, string PromptSha256, DateTimeOffset[]? RunsStarted = null)
{
    /// <summary>Whether judgements made under <paramref name="other"/> judge what this one judges (the endpoint may change: a model is a model).</summary>
    public bool JudgesTheSameAs(JudgeManifest other) =>
        Runs.SequenceEqual(other.Runs) && Model == other.Model && PromptSha256 == other.PromptSha256
        && (RunsStarted is null || other.RunsStarted is null || RunsStarted.SequenceEqual(other.RunsStarted));
}

/// <summary>
/// <c>eval judge DIR_A DIR_B --out J</c>: the paper's pairwise protocol over the samples both runs predicted, each
/// judged twice (B1/B2 swapped) and averaged. Resumable: complete judgements are kept, missing ones are asked again.
/// </summary>
public sealed class JudgeVerb(IAnsiConsole console)
{
    public const string JudgmentsFile = "judgments.jsonl", ManifestFile = "judge.json";

    public async Task<int> RunAsync(RunFolder first, RunFolder second, string outDirectory, JudgeOptions options, int parallelism, CancellationToken cancellation)
    {
        if (first.Name == second.Name) throw new ArgumentException($"both runs are named '{first.Name}': the report tells runs apart by their folder names.");
        var (firstRun, secondRun) = (first.ReadManifest(), second.ReadManifest());
        if (firstRun.Data != secondRun.Data)
            console.MarkupLineInterpolated($"[yellow]the runs were made from different files[/] ({firstRun.Data}, {secondRun.Data}): samples are matched by id.");
        var data = Relation252KJsonl.Read(firstRun.Data);
        // Both runs' pictures are judged beside the first run's data: a prediction made for another version of a sample would be judged unfairly.
        var samples = RunIdentity.OfSamples(data.Samples);
        foreach (var (run, manifest) in new[] { (first, firstRun), (second, secondRun) })
            if (RunIdentity.StalePredictions(run, manifest, samples) is { Count: > 0 } stale)
                throw new InvalidDataException($"{run.Path} holds predictions of {stale.Count} sample(s) that {firstRun.Data} now holds otherwise " +
                                               $"({RunIdentity.Some(stale)}): predict them again into another run folder, then judge that.");

        var identity = new JudgeManifest([first.Path, second.Path], [first.Name, second.Name], options.Model, options.Endpoint.ToString(),
            PairwiseJudge.CacheKey([], JudgePrompt.Text, ""), [firstRun.Started, secondRun.Started]);
        var manifestPath = Path.Combine(outDirectory, ManifestFile);
        if (File.Exists(manifestPath) && Json.Read<JudgeManifest>(manifestPath) is { } previous && !previous.JudgesTheSameAs(identity))
            throw new ArgumentException($"{outDirectory} holds judgements of other runs or by another judge model " +
                                        $"({string.Join(" vs ", previous.RunNames)} by {previous.Model}): judge into another --out.");
        Directory.CreateDirectory(outDirectory);
        Json.WriteAtomically(manifestPath, identity);
        var judgmentsPath = Path.Combine(outDirectory, JudgmentsFile);
        var done = ReadJudgements(outDirectory).Where(j => j.Value.Complete).Select(j => j.Key).ToHashSet();
        var todo = data.Samples.Where(s => !done.Contains(s.Id) && File.Exists(first.Prediction(s.Id)) && File.Exists(second.Prediction(s.Id))).ToList();
        var judge = new PairwiseJudge(options);
        var missing = 0;
        var gate = new Lock();
        await ConsoleProgress.RunAsync(console, "judge", todo.Count, async progress =>
        {
            await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellation }, async (sample, token) =>
            {
                var judgement = await JudgeSampleAsync(judge, sample, first, second, token);
                lock (gate)
                {
                    Json.AppendLine(judgmentsPath, judgement);
                    if (!judgement.Complete)
                    {
                        missing++;
                        console.MarkupLineInterpolated($"[yellow]missing[/] {sample.Id}: {string.Join("; ", judgement.Failures.Where(f => f is not null))}");
                    }
                    progress.Increment(1);
                }
            });
        });
        console.WriteLine($"{todo.Count - missing} judged, {done.Count} already, {missing} missing (asked again on the next run).");
        console.WriteLine(judge.Usage);
        return 0;
    }

    static async Task<Judgement> JudgeSampleAsync(PairwiseJudge judge, RelationSample sample, RunFolder first, RunFolder second, CancellationToken cancellation)
    {
        byte[] straight, swapped;
        using (var a = Load(sample.PromptImage))
        using (var a1 = Load(sample.ReferenceImage))
        using (var b = Load(sample.Source))
        using (var p1 = Load(first.Prediction(sample.Id)))
        using (var p2 = Load(second.Prediction(sample.Id)))
        {
            straight = Png(CompositeImage.Compose(a, a1, b, p1, p2));
            swapped = Png(CompositeImage.Compose(a, a1, b, p2, p1));
        }
        var outcomes = await Task.WhenAll(judge.JudgeAsync(straight, cancellation), judge.JudgeAsync(swapped, cancellation));
        var (one, two) = (outcomes[0].Answer, outcomes[1].Answer);
        return new Judgement
        {
            Id = sample.Id,
            Runs = new()
            {
                [first.Name] = Average(one?.B1, two?.B2),
                [second.Name] = Average(one?.B2, two?.B1),
            },
            Answers = [one?.Raw, two?.Raw],
            Failures = [outcomes[0].Failure, outcomes[1].Failure],
        };
    }

    /// <summary>The mean of the orders answered: with one order missing, the other stands alone; with both, nothing.</summary>
    static RunJudgement Average(JudgeScores? straight, JudgeScores? swapped)
    {
        JudgeScores[] present = [.. new[] { straight, swapped }.OfType<JudgeScores>()];
        return present.Length == 0 ? new RunJudgement(null, null) : new RunJudgement(present.Average(s => s.Consistency), present.Average(s => s.Accuracy));
    }

    static Image<Rgb24> Load(string path) => ImageCodec.Decode(File.ReadAllBytes(path));

    static byte[] Png(Image<Rgb24> image)
    {
        using (image) return ImageCodec.Encode(image, OutputFormat.Png);
    }

    /// <summary>The latest judgement of each sample in a judgement folder.</summary>
    public static IReadOnlyDictionary<string, Judgement> ReadJudgements(string directory)
    {
        var judgements = new Dictionary<string, Judgement>();
        foreach (var judgement in Json.ReadLines<Judgement>(Path.Combine(directory, JudgmentsFile))) judgements[judgement.Id] = judgement;
        return judgements;
    }
}
