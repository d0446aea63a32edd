using System.CommandLine;
using RelationAdapter.Core.Data;
using RelationAdapter.Core.Pipeline;
using RelationAdapter.Eval.Judging;
using RelationAdapter.Eval.Reporting;
using RelationAdapter.Eval.Runs;
using RelationAdapter.Eval.Terminal;
using Spectre.Console;

namespace RelationAdapter.Eval;

/// <summary>The verbs: build, run, score, judge, report. Each is resumable and has --help.</summary>
public static class EvalCommandLine
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Measures edit quality the way the RelationAdapter paper does (MSE, CLIP-I, GPT-C, GPT-A) on Relation252K-format data.");
        root.Subcommands.Add(BuildCommand());
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(ScoreCommand());
        root.Subcommands.Add(JudgeCommand());
        root.Subcommands.Add(ReportCommand());
        return root;
    }

    static IAnsiConsole ConsoleOf(ParseResult parse)
    {
        var terminal = ReferenceEquals(parse.InvocationConfiguration.Output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(parse.InvocationConfiguration.Output),
            // Colours and line wrapping for a terminal only: redirected output (a log, a test) stays plain, one line per message.
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
        });
        if (!terminal) console.Profile.Width = 1000;
        return console;
    }

    /// <summary>Bad input is a message and exit code 2, not a stack trace.</summary>
    static void Handle(Command command, Func<ParseResult, IAnsiConsole, CancellationToken, Task<int>> action) =>
        command.SetAction(async (parse, cancellation) =>
        {
            var console = ConsoleOf(parse);
            try
            {
                return await action(parse, console, cancellation);
            }
            catch (Exception e) when (e is ArgumentException or UriFormatException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                                          or InvalidOperationException or System.Text.Json.JsonException or Core.Weights.CheckpointFormatException)
            {
                console.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
        });

    static Command BuildCommand()
    {
        var raw = new Option<DirectoryInfo>("--raw") { Description = "The raw Relation252K layout: one folder per task with Group*/labels.json.", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "F.jsonl to write (held-out samples go to F.test.jsonl, image halves to images/ beside it).", Required = true };
        var perTask = new Option<int?>("--per-task") { Description = "At most N samples per task (held-out ones included)." };
        var testPerTask = new Option<int>("--test-per-task") { Description = "K samples per task held out into F.test.jsonl.", DefaultValueFactory = _ => 0 };
        var seed = new Option<int?>("--seed") { Description = "Shuffle each task's pairs with this seed before the rotation (default: file order)." };
        var categories = new Option<FileInfo?>("--categories") { Description = "A JSON object task → category that fills 'category'." };
        var command = new Command("build", "Turn the raw layout (pair images side by side) into run-ready JSON Lines by the paper's rotational permutation.")
            { raw, output, perTask, testPerTask, seed, categories };
        Handle(command, (parse, console, _) =>
        {
            var options = new RawBuildOptions(parse.GetValue(raw)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(perTask),
                parse.GetValue(testPerTask), parse.GetValue(seed),
                parse.GetValue(categories) is { } file ? RawBuildOptions.ReadCategories(file.FullName) : null);
            var result = Relation252KRawBuilder.Build(options);
            ConsoleProgress.ReportIssues(console, result.Issues.ToList());
            console.WriteLine($"{result.Tasks} task(s), {result.Pairs} pair(s): {result.Train.Count} sample(s) in {options.OutputPath}, " +
                              $"{result.Test.Count} in {options.TestOutputPath}; {result.Issues.Count} bad entr(ies) skipped.");
            return Task.FromResult(0);
        });
        return command;
    }

    static Command RunCommand()
    {
        var data = new Option<FileInfo>("--data") { Description = "The samples (JSON Lines).", Required = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "The run folder: pred/<id>.png and run.json; its name is the run's name in reports.", Required = true };
        var preset = new Option<string>("--preset") { Description = "flux1-dev (the weights below) or tiny (a random model: meaningless images, for trying the tool).", DefaultValueFactory = _ => "flux1-dev" };
        preset.AcceptOnlyFromAmong("flux1-dev", "tiny");
        var flux = new Option<DirectoryInfo?>("--flux-dir") { Description = "FLUX.1-dev in the diffusers layout." };
        var siglip = new Option<DirectoryInfo?>("--siglip-dir") { Description = "google/siglip-so400m-patch14-384." };
        var adapter = new Option<FileInfo?>("--adapter") { Description = "The RelationAdapter checkpoint (ip_adapter-100000.bin); with --preset tiny, optional: a training tool checkpoint's adapter.safetensors over the tiny model." };
        var lora = new Option<FileInfo?>("--lora") { Description = "The in-context editor LoRA, fused at load (with --preset tiny: a training tool checkpoint's pytorch_lora_weights.safetensors)." };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto.", DefaultValueFactory = _ => "auto" };
        device.AcceptOnlyFromAmong("cpu", "cuda", "auto");
        var precision = new Option<string>("--precision") { Description = "The DiT blocks' weights: bf16 or fp8.", DefaultValueFactory = _ => "bf16" };
        precision.AcceptOnlyFromAmong("bf16", "fp8");
        var cacheThreshold = new Option<double>("--cache-threshold") { Description = "First-Block Cache threshold (0: every step computed).", DefaultValueFactory = _ => EditSettings.DefaultCacheThreshold };
        var steps = new Option<int>("--steps") { Description = "Denoising steps (the paper: 24).", DefaultValueFactory = _ => EditSettings.DefaultSteps };
        var guidance = new Option<double>("--guidance") { Description = "Guidance (the paper: 3.5).", DefaultValueFactory = _ => EditSettings.DefaultGuidance };
        var adapterScale = new Option<double>("--adapter-scale") { Description = "Adapter scale α (the paper: 1.0).", DefaultValueFactory = _ => EditSettings.DefaultAdapterScale };
        var seed = new Option<long>("--seed") { Description = "Seed of every sample (the paper: 1000).", DefaultValueFactory = _ => 1000 };
        var maxSide = new Option<int>("--max-side") { Description = "The source's long side at most (the paper: 512).", DefaultValueFactory = _ => EditSettings.DefaultMaxSide };
        var service = new Option<string?>("--service") { Description = "Evaluate a deployed service through its API instead (relations reused, several edits in flight)." };
        var apiKey = new Option<string?>("--api-key") { Description = "The service's API key (Authorization: Bearer)." };
        var parallel = new Option<int>("--parallel") { Description = "Edits in flight with --service.", DefaultValueFactory = _ => 4 };
        var command = new Command("run", "Make a prediction per sample into DIR/pred/<id>.png (resumable: existing predictions are kept).")
            { data, output, preset, flux, siglip, adapter, lora, device, precision, cacheThreshold, steps, guidance, adapterScale, seed, maxSide, service, apiKey, parallel };
        Handle(command, async (parse, console, cancellation) =>
        {
            var remote = parse.GetValue(service);
            var settings = new RunSettings
            {
                Mode = remote is null ? "in-process" : "service",
                Preset = remote is null ? parse.GetValue(preset) : null,
                FluxDirectory = remote is null ? parse.GetValue(flux)?.FullName : null,
                SiglipDirectory = remote is null ? parse.GetValue(siglip)?.FullName : null,
                Adapter = remote is null ? parse.GetValue(adapter)?.FullName : null,
                Lora = remote is null ? parse.GetValue(lora)?.FullName : null,
                Service = remote is null ? null : new Uri(remote).ToString(),
                Device = parse.GetValue(device)!,
                Precision = parse.GetValue(precision)!,
                CacheThreshold = parse.GetValue(cacheThreshold),
                Steps = parse.GetValue(steps),
                Guidance = parse.GetValue(guidance),
                AdapterScale = parse.GetValue(adapterScale),
                Seed = parse.GetValue(seed),
                MaxSide = parse.GetValue(maxSide),
            };
            if (settings.Preset == "tiny") console.MarkupLine("[yellow]--preset tiny: a random model, its images and scores are meaningless.[/]");
            IPredictor Create() => remote is null
                ? InProcessPredictor.Create(settings)
                : new ServicePredictor(settings, parse.GetValue(apiKey), Math.Max(1, parse.GetValue(parallel)));
            return await new RunVerb(console).RunAsync(parse.GetValue(data)!.FullName, new RunFolder(parse.GetValue(output)!.FullName), settings, Create, cancellation);
        });
        return command;
    }

    static Command ScoreCommand()
    {
        var run = new Argument<DirectoryInfo>("DIR") { Description = "A run folder made by 'eval run'." };
        var clip = new Option<DirectoryInfo?>("--clip-dir") { Description = "A CLIPModel folder (openai/clip-vit-large-patch14) for CLIP-I; without it CLIP-I stays empty." };
        var command = new Command("score", "MSE and CLIP-I of every prediction against its target into DIR/scores.jsonl (resumable).") { run, clip };
        Handle(command, (parse, console, cancellation) =>
            new ScoreVerb(console).RunAsync(new RunFolder(parse.GetValue(run)!.FullName), parse.GetValue(clip)?.FullName, cancellation));
        return command;
    }

    static Command JudgeCommand()
    {
        var first = new Argument<DirectoryInfo>("DIR_A") { Description = "The first run folder." };
        var second = new Argument<DirectoryInfo>("DIR_B") { Description = "The second run folder, over the same data." };
        var output = new Option<DirectoryInfo>("--out") { Description = "The judgement folder: judgments.jsonl (raw answers), judge.json, cache/.", Required = true };
        var url = new Option<string>("--judge-url") { Description = "An OpenAI-compatible chat-completions base address (…/v1). The key comes from OPENAI_API_KEY.", DefaultValueFactory = _ => "https://api.openai.com/v1" };
        var model = new Option<string>("--judge-model") { Description = "A chat model with image input.", DefaultValueFactory = _ => "gpt-4o" };
        var attempts = new Option<int>("--attempts") { Description = "Tries per composite (429, 5xx, timeouts, malformed answers) before it is recorded as missing.", DefaultValueFactory = _ => 4 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds per request.", DefaultValueFactory = _ => 120 };
        var retryDelay = new Option<double>("--retry-delay") { Description = "Seconds before the first retry (doubled each time; a 429's Retry-After wins).", DefaultValueFactory = _ => 2 };
        var parallel = new Option<int>("--parallel") { Description = "Samples judged at once.", DefaultValueFactory = _ => 4 };
        var cache = new Option<DirectoryInfo?>("--cache") { Description = "The answer cache (default: OUT/cache); share it between judgements to pay once." };
        var command = new Command("judge", "GPT-C / GPT-A of two runs by the paper's pairwise protocol (both orders, averaged) into OUT/judgments.jsonl (resumable, cached).")
            { first, second, output, url, model, attempts, timeout, retryDelay, parallel, cache };
        Handle(command, (parse, console, cancellation) =>
        {
            var key = Environment.GetEnvironmentVariable("OPENAI_API_KEY");
            if (string.IsNullOrEmpty(key)) throw new ArgumentException("set OPENAI_API_KEY to the judge endpoint's key.");
            var outDirectory = parse.GetValue(output)!.FullName;
            var options = new JudgeOptions(new Uri(parse.GetValue(url)!), parse.GetValue(model)!, key,
                parse.GetValue(cache)?.FullName ?? Path.Combine(outDirectory, "cache"), Math.Max(1, parse.GetValue(attempts)),
                TimeSpan.FromSeconds(parse.GetValue(timeout)), TimeSpan.FromSeconds(parse.GetValue(retryDelay)));
            return new JudgeVerb(console).RunAsync(new RunFolder(parse.GetValue(first)!.FullName), new RunFolder(parse.GetValue(second)!.FullName),
                outDirectory, options, Math.Max(1, parse.GetValue(parallel)), cancellation);
        });
        return command;
    }

    static Command ReportCommand()
    {
        var runs = new Argument<DirectoryInfo[]>("DIR") { Description = "Run folders, the reference first.", Arity = ArgumentArity.OneOrMore };
        var judges = new Option<DirectoryInfo[]>("--judge") { Description = "Judgement folders made by 'eval judge'.", AllowMultipleArgumentsPerToken = true };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where report.md, report.html and results.csv go.", Required = true };
        var command = new Command("report", "Write report.md, report.html (self-contained) and results.csv for one or more runs side by side.") { runs, judges, output };
        Handle(command, (parse, console, _) => Task.FromResult(new ReportVerb(console).Run(
            parse.GetValue(runs)!.Select(d => new RunFolder(d.FullName)).ToList(),
            (parse.GetValue(judges) ?? []).Select(d => d.FullName).ToList(),
            parse.GetValue(output)!.FullName)));
        return command;
    }
}
