using static TorchSharp.torch;

namespace RelationAdapter.Core.Layers;

public static class Activations
{
    public static Tensor GeluTanh(Tensor x) => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh);

    /// <summary>CLIP's quick_gelu: x·σ(1.702x).</summary>
    public static Tensor QuickGelu(Tensor x)
    {
        using var scaled = x * 1.702;
        using var gate = scaled.sigmoid();
        return x * gate;
    }

    public static Tensor ByName(string name, Tensor x) => name switch
    {
        "gelu_pytorch_tanh" or "gelu_new" or "gelu_tanh" => GeluTanh(x),
        "quick_gelu" => QuickGelu(x),
        "gelu" => nn.functional.gelu(x),
        _ => throw new NotSupportedException($"activation '{name}' is not supported."),
    };
}
