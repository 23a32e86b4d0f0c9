import Tensor

/// A fully connected layer on [In, N] → [Out, N]; weight [Out, In] as PyTorch's Linear.
public final class Linear: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    private var input: Tensor?

    /// Weights drawn with PyTorch's default for Linear (uniform ±1/√in), bias likewise.
    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true, random: inout SeededRandom) {
        weight = Parameter(torchDefaultUniform(shape: [outputs, inputs], fanIn: inputs, random: &random))
        self.bias = bias ? Parameter(torchDefaultUniform(shape: [outputs], fanIn: inputs, random: &random)) : nil
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        input = mode == .training ? x : nil
        CostMeter.addFlops(2 * Double(weight.value.count) * Double(x.shape[1]))
        return Dense.forward(x, weight: weight.value, bias: bias?.value)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let input else { preconditionFailure("Linear.backward without a training forward pass") }
        var biasGradient = bias?.gradient
        let dx = Dense.backward(dy, input: input, weight: weight.value, weightGradient: &weight.gradient,
                                biasGradient: &biasGradient)
        if let biasGradient { bias?.gradient = biasGradient }
        self.input = nil
        return dx
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        var entries: [(name: String, entry: StateEntry)] = [(prefix + "weight", .parameter(weight))]
        if let bias { entries.append((prefix + "bias", .parameter(bias))) }
        return entries
    }
}
