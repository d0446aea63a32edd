using System.Numerics;

namespace RelationAdapter.Service.Platform;

/// <summary>The inclusive range a request field must fall in, and the value taken when the request leaves it out (none: chosen per request).</summary>
public readonly record struct Bounds<T>(T Min, T Max, T? Default = null) where T : struct, INumber<T>
{
    public bool Contains(T value) => value >= Min && value <= Max;
}
