// Uses the C# clients Kiota generates from the committed client document as a C# caller would, against a running
// service, with no type of its own for the API. Kiota makes one body per operation, the content type its
// --structured-mime-types ranks first: Generated/Multipart ranks multipart first (POST takes a MultipartBody, Kiota's
// own type for multipart, since the document gives the image parts an encoding), Generated/Json ranks JSON first (POST
// takes the typed EditJson). An edit as multipart followed over Server-Sent Events, its image downloaded, the same edit
// as JSON with data: URIs, the listing by its status enum, and problems read with their typed members.
//
//   dotnet RelationAdapter.KiotaCheck.dll <service address> <folder with before.png, after.png and source.png>
//
// Prints "ok <check>: …" per check and exits 0, or prints "FAIL …" and exits 1.
using System.Net.ServerSentEvents;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Http.HttpClientLibrary;
using RelationAdapter.Kiota.Json;
using RelationAdapter.Kiota.Multipart;
using RelationAdapter.Kiota.Multipart.Models;
using JsonModels = RelationAdapter.Kiota.Json.Models;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: RelationAdapter.KiotaCheck <service address> <photo folder>");
    return 2;
}
var (address, photos) = (args[0].TrimEnd('/'), args[1]);
const long seed = 424242;
const string problemPrefix = "urn:relation-adapter:problem:";

try
{
    var multipartClient = new RelationAdapterMultipartClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider()) { BaseUrl = address });
    var jsonClient = new RelationAdapterJsonClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider()) { BaseUrl = address });

    // Multipart: Kiota's MultipartBody, one part per form field.
    var form = new MultipartBody();
    form.AddOrReplacePart("prompt_image", "image/png", Photo("before.png"), "before.png");
    form.AddOrReplacePart("reference_image", "image/png", Photo("after.png"), "after.png");
    form.AddOrReplacePart("source_image", "image/png", Photo("source.png"), "source.png");
    form.AddOrReplacePart("prompt", "text/plain", "make it look like the example");
    form.AddOrReplacePart("steps", "text/plain", "2");
    form.AddOrReplacePart("seed", "text/plain", seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
    var idempotencyKey = Guid.NewGuid().ToString();
    var job = await multipartClient.V1.Edits.PostAsync(form, request => request.Headers.Add("Idempotency-Key", idempotencyKey));
    Check(job is { Id: not null, Seed: seed }, $"the new job is {job?.Id} with seed {job?.Seed}");
    var again = await multipartClient.V1.Edits.PostAsync(form, request => request.Headers.Add("Idempotency-Key", idempotencyKey));
    Check(again?.Id == job!.Id, $"the retry with the same Idempotency-Key made {again?.Id}, not {job.Id}");
    Console.WriteLine($"ok multipart: {job.Id} is {job.Status} (a retry with its Idempotency-Key answered the same job)");

    // Server-Sent Events: Kiota answers text/event-stream as a stream; each event's data is the job view.
    var stream = await multipartClient.V1.Edits[job.Id!].Events.GetAsync();
    Check(stream is not null, "no event stream");
    var names = new List<string>();
    EditView? last = null;
    await foreach (var item in SseParser.Create(stream!).EnumerateAsync())
    {
        names.Add(item.EventType);
        if (item.EventType == "reconnect") throw new InvalidOperationException($"the stream asked to reconnect: {item.Data}");
        last = await KiotaJsonSerializer.DeserializeAsync(item.Data, EditView.CreateFromDiscriminatorValue);
        if (last?.Status is JobStatus.Succeeded or JobStatus.Failed or JobStatus.Canceled) break;
    }
    Check(names.FirstOrDefault() == "status", $"the first event is {names.FirstOrDefault()}");
    // A job that finished before the stream opened is told by the first event, "status", alone.
    Check(last?.Status == JobStatus.Succeeded && (names[^1] == "succeeded" || names.Count == 1),
        $"the events ended with {names.LastOrDefault()} ({last?.Status}): {last?.Error?.Detail}");
    Console.WriteLine($"ok events: {string.Join(", ", names)}");

    await using var result = await multipartClient.V1.Edits[job.Id!].Result.GetAsync();
    Check(result is not null, "no result");
    var bytes = await ReadAllAsync(result!);
    Check(bytes.AsSpan().StartsWith((byte[])[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), "the result is not a PNG");
    Console.WriteLine($"ok download: {bytes.Length} bytes of PNG");

    // JSON: the typed EditJson, the images as data: URIs (source_image one URI, of the string-or-array field).
    var json = new JsonModels.EditJson
    {
        PromptImage = DataUri("before.png"),
        ReferenceImage = DataUri("after.png"),
        SourceImage = new JsonModels.EditJson.EditJson_source_image { EditJsonSourceImageString = DataUri("source.png") },
        Prompt = "make it look like the example",
        Steps = 2,
        Seed = seed,
        OutputFormat = JsonModels.OutputFormat.Png,
    };
    var jsonJob = await jsonClient.V1.Edits.PostAsync(json);
    Check(jsonJob?.Id is not null, "the JSON edit made no job");
    var deadline = DateTime.UtcNow.AddMinutes(1);
    while (jsonJob!.Status is JsonModels.JobStatus.Queued or JsonModels.JobStatus.Running)
    {
        Check(DateTime.UtcNow < deadline, $"{jsonJob.Id} stayed {jsonJob.Status}");
        await Task.Delay(50);
        jsonJob = await jsonClient.V1.Edits[jsonJob.Id!].GetAsync();
    }
    Check(jsonJob.Status == JsonModels.JobStatus.Succeeded, $"{jsonJob.Id} ended {jsonJob.Status}");
    await using var jsonResult = await jsonClient.V1.Edits[jsonJob.Id!].Results[0].GetAsync();
    Check(jsonResult is not null && (await ReadAllAsync(jsonResult)).AsSpan().SequenceEqual(bytes), "the same edit as JSON made other bytes");
    Console.WriteLine($"ok json: {jsonJob.Id} succeeded with the multipart edit's image");

    var listed = await multipartClient.V1.Edits.GetAsync(request => { request.QueryParameters.Status = JobStatus.Succeeded; request.QueryParameters.Limit = 100; });
    var ids = listed?.Items?.Select(item => item.Id).ToList() ?? [];
    Check(ids.Contains(job.Id) && ids.Contains(jsonJob.Id) && listed!.Items!.All(item => item.Status == JobStatus.Succeeded),
        $"the succeeded listing holds {string.Join(", ", ids)}");
    Console.WriteLine($"ok listing: {ids.Count} succeeded");

    // Problems: Kiota throws them as the document's types, their members typed.
    try
    {
        await multipartClient.V1.Edits["ed_missing"].GetAsync();
        throw new InvalidOperationException("an unknown edit was found");
    }
    catch (ProblemDetails missing)
    {
        Check(missing.ResponseStatusCode == 404 && missing.Type == problemPrefix + "edit-not-found", $"an unknown edit answered {missing.ResponseStatusCode} {missing.Type}");
        Check(!string.IsNullOrEmpty(missing.TraceId), "the problem has no trace_id");
        Console.WriteLine($"ok not-found: trace {missing.TraceId}");
    }

    var bad = new MultipartBody();
    bad.AddOrReplacePart("source_image", "image/png", Photo("source.png"), "source.png");
    bad.AddOrReplacePart("prompt", "text/plain", "edit");
    bad.AddOrReplacePart("relation_id", "text/plain", "rel_unused");
    bad.AddOrReplacePart("steps", "text/plain", "0");
    try
    {
        await multipartClient.V1.Edits.PostAsync(bad);
        throw new InvalidOperationException("a bad form was accepted");
    }
    catch (HttpValidationProblemDetails rejected)
    {
        Check(rejected.Type == problemPrefix + "validation" && rejected.Errors?.AdditionalData.ContainsKey("steps") == true,
            $"a bad form answered {rejected.Type} with errors for {string.Join(", ", rejected.Errors?.AdditionalData.Keys ?? [])}");
        Console.WriteLine($"ok validation: errors for {string.Join(", ", rejected.Errors!.AdditionalData.Keys)}");
    }

    // A long edit canceled at once: its result is a 409 that says the job's state.
    form.AddOrReplacePart("steps", "text/plain", "50");
    var longJob = await multipartClient.V1.Edits.PostAsync(form);
    await multipartClient.V1.Edits[longJob!.Id!].DeleteAsync();
    try
    {
        await using var none = await multipartClient.V1.Edits[longJob.Id!].Result.GetAsync();
        throw new InvalidOperationException("a canceled edit has a result");
    }
    catch (ProblemDetails conflict)
    {
        Check(conflict.ResponseStatusCode == 409 && conflict.JobStatus is JobStatus.Canceled or JobStatus.Running,
            $"a canceled edit's result answered {conflict.ResponseStatusCode} with job_status {conflict.JobStatus}");
        Console.WriteLine($"ok conflict: {conflict.Type} with job_status {conflict.JobStatus}");
    }
    Console.WriteLine("all checks passed");
    return 0;
}
catch (Exception e)
{
    Console.WriteLine($"FAIL {e.GetType().Name}: {e.Message}");
    return 1;
}

byte[] Photo(string name) => File.ReadAllBytes(Path.Combine(photos, name));

string DataUri(string name) => "data:image/png;base64," + Convert.ToBase64String(Photo(name));

static void Check(bool condition, string what)
{
    if (!condition) throw new InvalidOperationException(what);
}

static async Task<byte[]> ReadAllAsync(Stream stream)
{
    using var copy = new MemoryStream();
    await stream.CopyToAsync(copy);
    return copy.ToArray();
}
