using System.Threading.Channels;
using Microsoft.Extensions.Options;
using RelationAdapter.Service.Options;
using RelationAdapter.Service.Telemetry;

namespace RelationAdapter.Service.Jobs;

public enum EnqueueResult { Accepted, Full, ShuttingDown }

/// <summary>
/// The bounded queue between the endpoints and the worker. Admission counts jobs still waiting, so a job
/// canceled while queued gives its place back at once; the channel is read by the one inference worker.
/// </summary>
public sealed class JobQueue
{
    readonly Channel<EditJob> _channel;
    readonly int _capacity;
    int _waiting;
    volatile bool _closed;

    public JobQueue(IOptions<QueueOptions> options, ServiceTelemetry telemetry)
    {
        _capacity = options.Value.Capacity;
        // Canceled jobs stay in the channel until the worker skips them, hence the headroom.
        _channel = Channel.CreateBounded<EditJob>(new BoundedChannelOptions(_capacity * 4)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        telemetry.ObserveQueueDepth(() => Volatile.Read(ref _waiting));
    }

    public int Waiting => Volatile.Read(ref _waiting);

    public ChannelReader<EditJob> Reader => _channel.Reader;

    public EnqueueResult TryEnqueue(EditJob job)
    {
        if (_closed) return EnqueueResult.ShuttingDown;
        if (Interlocked.Increment(ref _waiting) > _capacity || !_channel.Writer.TryWrite(job))
        {
            Interlocked.Decrement(ref _waiting);
            return _closed ? EnqueueResult.ShuttingDown : EnqueueResult.Full;
        }
        return EnqueueResult.Accepted;
    }

    /// <summary>A queued job left the queue: it started, or it was canceled while waiting.</summary>
    public void Left() => Interlocked.Decrement(ref _waiting);

    /// <summary>Stops accepting jobs; the worker drains what is left.</summary>
    public void Close()
    {
        _closed = true;
        _channel.Writer.TryComplete();
    }
}
