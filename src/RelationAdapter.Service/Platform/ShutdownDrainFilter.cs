using Microsoft.Extensions.Options;
using RelationAdapter.Jobs.Options;

namespace RelationAdapter.Service.Platform;

/// <summary>While the shutdown drains (<see cref="ShutdownDrain"/>), the API answers <c>503 shutting-down</c> with Retry-After: another replica, or this one restarted, takes the request.</summary>
public sealed class ShutdownDrainFilter(ShutdownDrain drain, IOptions<QueueOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        drain.Draining
            ? Problems.ShuttingDown(context.HttpContext.Response, options.Value.RetryAfterSeconds)
            : await next(context);
}
