using System.Net.Sockets;
using System.Text;

namespace RelationAdapter.Service.Tests.Support;

/// <summary>A response read off the wire.</summary>
public sealed record RawResponse(int Status, Dictionary<string, string> Headers, string Body)
{
    public string? ContentType => Headers.GetValueOrDefault("content-type");
}

/// <summary>
/// HTTP/1.1 over a bare socket, for requests no well-behaved client sends: malformed multipart, bodies
/// shorter than their Content-Length, responses read before the body is sent.
/// </summary>
public static class RawHttp
{
    /// <summary>Sends the head and <paramref name="body"/>; with <paramref name="hangUp"/> the sending side is then closed.</summary>
    public static async Task<RawResponse> SendAsync(Uri server, string head, byte[] body, bool hangUp = false, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        using var socket = new TcpClient();
        await socket.ConnectAsync(server.Host, server.Port, cancel.Token);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ReplaceLineEndings("\r\n").TrimEnd('\r', '\n') + "\r\n\r\n"), cancel.Token);
        await stream.WriteAsync(body, cancel.Token);
        if (hangUp) socket.Client.Shutdown(SocketShutdown.Send);
        return await ReadResponseAsync(stream, cancel.Token);
    }

    static async Task<RawResponse> ReadResponseAsync(NetworkStream stream, CancellationToken cancellation)
    {
        var buffer = new List<byte>();
        var chunk = new byte[8192];
        int headEnd;
        while ((headEnd = IndexOf(buffer, "\r\n\r\n"u8.ToArray())) < 0)
            buffer.AddRange(chunk[..await ReadSome(stream, chunk, cancellation)]);
        var lines = Encoding.ASCII.GetString([.. buffer[..headEnd]]).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var headers = lines.Skip(1).Select(line => line.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var body = buffer[(headEnd + 4)..];

        if (headers.TryGetValue("content-length", out var length))
        {
            while (body.Count < int.Parse(length)) body.AddRange(chunk[..await ReadSome(stream, chunk, cancellation)]);
        }
        else if (headers.GetValueOrDefault("transfer-encoding") == "chunked")
        {
            var decoded = new List<byte>();
            while (true)
            {
                int lineEnd;
                while ((lineEnd = IndexOf(body, "\r\n"u8.ToArray())) < 0) body.AddRange(chunk[..await ReadSome(stream, chunk, cancellation)]);
                var size = Convert.ToInt32(Encoding.ASCII.GetString([.. body[..lineEnd]]).Split(';')[0], 16);
                while (body.Count < lineEnd + 2 + size + 2) body.AddRange(chunk[..await ReadSome(stream, chunk, cancellation)]);
                if (size == 0) break;
                decoded.AddRange(body[(lineEnd + 2)..(lineEnd + 2 + size)]);
                body = body[(lineEnd + 2 + size + 2)..];
            }
            body = decoded;
        }
        return new RawResponse(status, headers, Encoding.UTF8.GetString([.. body]));
    }

    static async Task<int> ReadSome(NetworkStream stream, byte[] chunk, CancellationToken cancellation)
    {
        var read = await stream.ReadAsync(chunk, cancellation);
        if (read == 0) throw new IOException("the server closed the connection before the response was complete");
        return read;
    }

    static int IndexOf(List<byte> haystack, byte[] needle)
    {
        for (var i = 0; i + needle.Length <= haystack.Count; i++)
        {
            var j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }
}
