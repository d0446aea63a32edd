namespace RelationAdapter.Service.Platform;

/// <summary>The <c>Idempotency-Key</c> request header, as the contract states it (its semantics: <c>IdempotentRequests</c>).</summary>
public static class IdempotencyKey
{
    public const string Header = "Idempotency-Key";
    public const int MaxLength = 255;
}
