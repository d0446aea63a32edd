using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace RelationAdapter.Core.Layers;

/// <summary>
/// y = x Wᵀ + b, with parameters left uninitialised so loading 12e9 weights costs no random init.
/// <see cref="QuantizeToFp8"/> turns W into float8_e4m3fn with a float32 <c>weight_scale</c> per output
/// channel (the layout fp8 checkpoints use); the layer then quantises its input per row at each call.
/// </summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    // Not readonly: quantisation swaps in the float8 tensor.
    public Parameter weight;
    public readonly Parameter? bias;
    public Tensor? weight_scale;

    /// <summary>
    /// A trainable low-rank branch added to the output (an unfused LoRA while training); null at inference,
    /// where a LoRA is fused into <see cref="weight"/>. Not a submodule: the layer's state dict stays the checkpoint's.
    /// </summary>
    public ILinearBranch? Branch { get; set; }

    public long InFeatures => weight.shape[1];
    public long OutFeatures => weight.shape[0];
    public bool IsFp8 => weight_scale is not null;

    public Linear(long inFeatures, long outFeatures, ModuleOptions options, bool hasBias = true) : base(nameof(Linear))
    {
        weight = options.Parameter(outFeatures, inFeatures);
        bias = hasBias ? options.Parameter(outFeatures) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        if (IsFp8)
        {
            using var rows = Fp8.Rows.Quantize(input);
            return WithBranch(input, Fp8.Linear(rows, weight, weight_scale!, bias));
        }
        return WithBranch(input, nn.functional.linear(input, weight, bias));
    }

    /// <summary>The same product for an input that other layers read too (quantised once for all of them).</summary>
    public Tensor forward(SharedInput input) => WithBranch(input.Value,
        IsFp8 ? Fp8.Linear(input.Fp8Rows, weight, weight_scale!, bias) : nn.functional.linear(input.Value, weight, bias));

    Tensor WithBranch(Tensor input, Tensor output)
    {
        if (Branch is null) return output;
        using (output)
        using (var added = Branch.forward(input))
            return output + added;
    }

    /// <summary>Swaps in another weight of the same shape (one drawn on the device, say) without copying it.</summary>
    public void ReplaceWeight(Tensor replacement)
    {
        if (IsFp8) throw new InvalidOperationException("the layer is already quantised.");
        if (!replacement.shape.SequenceEqual(weight.shape)) throw new ArgumentException($"expected a weight of shape [{string.Join(", ", weight.shape)}].");
        var old = weight;
        weight = new Parameter(replacement.alias(), requires_grad: false);
        ConditionallyRegisterParameter(nameof(weight), weight);
        old.Dispose();
    }

    /// <summary>
    /// Replaces the weight with its float8 quantisation, made and kept on <paramref name="device"/> (the
    /// bias stays where it is: moving the whole module afterwards moves it). The float8 product needs both
    /// dimensions to be multiples of 16; other layers are left as they are.
    /// </summary>
    /// <returns>Whether the layer was quantised.</returns>
    public bool QuantizeToFp8(Device device)
    {
        if (IsFp8) return true;
        if (InFeatures % 16 != 0 || OutFeatures % 16 != 0) return false;
        using var _ = no_grad();
        Tensor quantized, scale;
        using (var onDevice = weight.to(device)) (quantized, scale) = Fp8.QuantizeWeight(onDevice);
        var old = weight;
        weight = new Parameter(quantized, requires_grad: false);
        ConditionallyRegisterParameter(nameof(weight), weight);
        weight_scale = scale;
        ConditionallyRegisterBuffer(nameof(weight_scale), weight_scale);
        old.Dispose();
        return true;
    }
}

/// <summary>
/// An activation that several linear layers read (the q, k and v projections of one normalised input):
/// float8 layers quantise it once, on first use, for all of them.
/// </summary>
public sealed class SharedInput(Tensor value) : IDisposable
{
    Fp8.Rows? _rows;

    public Tensor Value { get; } = value;
    public Fp8.Rows Fp8Rows => _rows ??= Fp8.Rows.Quantize(Value);

    public void Dispose() => _rows?.Dispose();
}

/// <summary>An additive branch beside a linear layer's frozen product: y = x Wᵀ + b + branch(x).</summary>
public interface ILinearBranch
{
    /// <returns>A tensor of the layer's output shape and dtype.</returns>
    Tensor forward(Tensor input);
}
