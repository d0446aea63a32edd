using Microsoft.AspNetCore.Http.HttpResults;
using MinDataRate = Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>
/// Lets request bodies in: a bounded number at a time (per process and per API key), each at a minimum rate after a
/// grace period and within a whole-body deadline. Queue places are taken only once a body is complete, so clients
/// that trickle their uploads hold upload slots for a bounded time and never the queue.
/// </summary>
public sealed class UploadAdmission(IOptions<LimitsOptions> options, IOptions<QueueOptions> queue, RemoteImages remoteImages)
{
    /// <summary>
    /// Null for a body the POST endpoints take (a multipart form, or JSON with the same fields, images by URL), else
    /// the 415 to answer. Bodies are not decompressed: a compressed one would be read as garbage.
    /// </summary>
    public static ProblemHttpResult? MediaTypeRefusal(HttpRequest request)
    {
        var encoding = request.Headers.ContentEncoding.ToString();
        if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase)) return Problems.Compressed(encoding);
        return JsonForms.IsJson(request) ||
               request.HasFormContentType && request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            ? null
            : Problems.NotMultipart(request.ContentType);
    }

    readonly LimitsOptions _limits = options.Value;
    readonly Lock _gate = new();
    readonly Dictionary<string, int> _perKey = new(StringComparer.Ordinal);
    int _all;

    /// <summary>Uploads being read now in this process.</summary>
    public int InProgress
    {
        get { lock (_gate) return _all; }
    }

    /// <summary>
    /// The body as a form, read within the limits (a JSON body's images fetched, see <see cref="JsonForms"/>); a problem
    /// when no upload slot is free (429 for the caller's own bound, 503 for the process's), the body came too slowly,
    /// or a JSON body or one of its images could not be read.
    /// </summary>
    public async Task<(IFormCollection? Form, ProblemHttpResult? Problem)> ReadFormAsync(HttpContext http, CancellationToken cancellation)
    {
        var caller = ApiKeyFilter.Caller(http) ?? "";
        if (TryEnter(caller) is { } busy) return (null, busy(http.Response));
        try
        {
            if (_limits.MinUploadBytesPerSecond > 0 && http.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
                rate.MinDataRate = new MinDataRate(_limits.MinUploadBytesPerSecond, _limits.UploadGracePeriod);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(_limits.UploadTimeout);
            try
            {
                var (form, refused) = JsonForms.IsJson(http.Request)
                    ? await JsonForms.ReadAsync(http.Request, remoteImages, deadline.Token)
                    : (await http.Request.ReadFormAsync(deadline.Token), null);
                return form is null ? (null, refused) : (await ReadUpload.ReadAllAsync(form, _limits.MaxFileBytes, deadline.Token), null);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellation.IsCancellationRequested)
            {
                return (null, TooSlow($"The body was not complete within Limits:UploadTimeout ({_limits.UploadTimeout.TotalSeconds:F0} s)."));
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
            {
                return (null, TooSlow($"The body arrived slower than Limits:MinUploadBytesPerSecond ({_limits.MinUploadBytesPerSecond} bytes/s) " +
                                      $"after the first {_limits.UploadGracePeriod.TotalSeconds:F0} s."));
            }
        }
        finally
        {
            Leave(caller);
        }
    }

    /// <summary>Null when a slot was taken; else the refusal to answer with.</summary>
    Func<HttpResponse, ProblemHttpResult>? TryEnter(string caller)
    {
        lock (_gate)
        {
            var mine = _perKey.GetValueOrDefault(caller);
            if (mine >= _limits.ConcurrentUploadsPerKey)
                return response => Busy(response, StatusCodes.Status429TooManyRequests,
                    $"This API key is sending {mine} uploads already (Limits:ConcurrentUploadsPerKey); finish one first.");
            if (_all >= _limits.ConcurrentUploads)
                return response => Busy(response, StatusCodes.Status503ServiceUnavailable,
                    $"{_all} uploads are being received (Limits:ConcurrentUploads); retry later.");
            _perKey[caller] = mine + 1;
            _all++;
            return null;
        }
    }

    void Leave(string caller)
    {
        lock (_gate)
        {
            _all--;
            var left = _perKey[caller] - 1;
            if (left == 0) _perKey.Remove(caller);
            else _perKey[caller] = left;
        }
    }

    ProblemHttpResult Busy(HttpResponse response, int status, string detail)
    {
        response.Headers.RetryAfter = queue.Value.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Problem(status, Problems.Types.TooManyUploads, "Too many uploads in progress.", detail);
    }

    static ProblemHttpResult TooSlow(string detail) =>
        Problems.Problem(StatusCodes.Status408RequestTimeout, Problems.Types.UploadTooSlow, "The upload was too slow.", detail);
}
