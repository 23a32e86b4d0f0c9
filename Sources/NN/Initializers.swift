import Tensor

/// Weight initialisers (He et al. 2015; Glorot & Bengio 2010), with fans computed as PyTorch does:
/// [out, in, kh, kw] → fan_in = in·kh·kw, fan_out = out·kh·kw; [out, in] for dense layers.
public enum Initializer: Sendable, Equatable {
    public enum FanMode: Sendable { case fanIn, fanOut }

    /// Kaiming normal, gain √2 (ReLU): std = √2 / √fan.
    case heNormal(FanMode)
    /// Kaiming uniform, gain √2: bound = √6 / √fan.
    case heUniform(FanMode)
    /// Xavier normal: std = √(2 / (fan_in + fan_out)).
    case glorotNormal
    /// Xavier uniform: bound = √(6 / (fan_in + fan_out)).
    case glorotUniform
    /// PyTorch's default for Conv2d and Linear weights and biases: uniform ±1/√fan_in.
    case torchDefault

    public static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 2, "fans need a weight of rank ≥ 2, got \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Overwrites `tensor` with fresh values; `fanIn`/`fanOut` default to the tensor's own. Leaves it
    /// as it is when `random` skips weight initialisation (`SeededRandom.skippingWeightInitialization`).
    public func fill(_ tensor: inout Tensor, fanIn: Int? = nil, fanOut: Int? = nil, random: inout SeededRandom) {
        guard random.initializesWeights else { return }
        let own: (fanIn: Int, fanOut: Int) = tensor.rank >= 2 ? Initializer.fans(of: tensor.shape) : (tensor.count, tensor.count)
        let inputs = Float(max(fanIn ?? own.fanIn, 1)), outputs = Float(max(fanOut ?? own.fanOut, 1))
        switch self {
        case .heNormal(let mode):
            let std = (2 / (mode == .fanIn ? inputs : outputs)).squareRoot()
            normal(&tensor, std: std, &random)
        case .heUniform(let mode):
            uniform(&tensor, bound: (6 / (mode == .fanIn ? inputs : outputs)).squareRoot(), &random)
        case .glorotNormal:
            let std = (2 / (inputs + outputs)).squareRoot()
            normal(&tensor, std: std, &random)
        case .glorotUniform:
            uniform(&tensor, bound: (6 / (inputs + outputs)).squareRoot(), &random)
        case .torchDefault:
            uniform(&tensor, bound: 1 / inputs.squareRoot(), &random)
        }
    }

    private func uniform(_ tensor: inout Tensor, bound: Float, _ random: inout SeededRandom) {
        tensor.scalars.withUnsafeMutableBufferPointer { values in
            for i in values.indices { values[i] = (random.nextUniform() * 2 - 1) * bound }
        }
    }

    private func normal(_ tensor: inout Tensor, std: Float, _ random: inout SeededRandom) {
        tensor.scalars.withUnsafeMutableBufferPointer { values in
            for i in values.indices { values[i] = random.nextNormal() * std }
        }
    }
}
