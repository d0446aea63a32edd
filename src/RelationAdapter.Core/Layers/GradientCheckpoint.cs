using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace RelationAdapter.Core.Layers;

/// <summary>
/// Gradient checkpointing: a function's forward runs without recording autograd (its activations are freed at
/// once, only its inputs are kept), and the backward pass runs it again with autograd to backpropagate through
/// it. Memory per checkpointed block falls to its inputs, for the price of a second forward.
/// </summary>
/// <remarks>
/// Every tensor the function reads that needs a gradient must be one of its inputs: the recomputation sees
/// detached copies and hands their gradients back to the outer graph. Parameters it reads (the frozen weights,
/// trained LoRA factors) are leaves; their gradients accumulate directly. The function must compute the same
/// values both times (no random draws).
/// </remarks>
public static class GradientCheckpoint
{
    /// <summary>Runs <paramref name="function"/> over <paramref name="inputs"/> (null entries stay null), checkpointed when autograd is recording.</summary>
    public static IReadOnlyList<Tensor> Run(Func<IReadOnlyList<Tensor?>, IReadOnlyList<Tensor>> function, params Tensor?[] inputs)
    {
        if (!is_grad_enabled()) return function(inputs);
        // The function may read trained parameters while no input needs a gradient (the first block's inputs come
        // from frozen layers): an anchor that does makes autograd record the node, so the backward pass reaches it.
        var anchor = empty(0, requires_grad: true);
        return Recomputation.apply([function, anchor, .. inputs]);
    }

    sealed class Recomputation : MultiTensorFunction<Recomputation>
    {
        const string FunctionKey = "function";

        public override string Name => nameof(GradientCheckpoint);

        public override List<Tensor> forward(AutogradContext ctx, params object[] vars)
        {
            var function = (Func<IReadOnlyList<Tensor?>, IReadOnlyList<Tensor>>)vars[0];
            var inputs = vars.Skip(2).Select(v => v as Tensor).ToList();
            ctx.save_for_backward(inputs!);
            ctx.save_data(FunctionKey, function);
            return function(inputs).ToList();
        }

        /// <summary>
        /// The gradients last handed back on this thread. The engine takes its own references as soon as
        /// <see cref="backward"/> returns, so their wrappers are released on the thread's next call: on a device's
        /// autograd thread no dispose scope would ever release them.
        /// </summary>
        [ThreadStatic] static List<Tensor>? _handedBack;

        public override List<Tensor> backward(AutogradContext ctx, List<Tensor> gradOutputs)
        {
            if (_handedBack is { } previous)
            {
                foreach (var gradient in previous) gradient.Dispose();
                previous.Clear();
            }
            var function = (Func<IReadOnlyList<Tensor?>, IReadOnlyList<Tensor>>)ctx.get_data(FunctionKey);
            using var scope = NewDisposeScope();
            var inputs = ctx.get_saved_variables()
                .Select(saved => saved is null ? null : saved.detach().requires_grad_(saved.requires_grad)).ToList();
            using (enable_grad())
            {
                var outputs = function(inputs);
                var recorded = outputs.Zip(gradOutputs).Where(pair => pair.First.requires_grad).ToList();
                if (recorded.Count > 0)
                    autograd.backward(recorded.Select(pair => pair.First).ToList(), recorded.Select(pair => pair.Second).ToList());
            }
            var gradients = inputs.Select(input => input is { requires_grad: true } ? input.grad?.DetachFromDisposeScope() : null).ToList();
            (_handedBack ??= []).AddRange(gradients.OfType<Tensor>());
            return [null!, null!, .. gradients.Select(gradient => gradient!)];
        }
    }
}
