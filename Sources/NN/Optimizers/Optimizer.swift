import Tensor

/// Updates parameters from their accumulated gradients. Matches torch.optim's update rules, so a
/// model trained here and there from the same start follows the same path.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    /// One update of every parameter from its gradient.
    func step(_ parameters: [(name: String, parameter: Parameter)])
    /// State for checkpoints: tensors keyed "<parameter name>.<slot>" ("fc.weight.momentum_buffer",
    /// "fc.weight.exp_avg") and the step count, so that training resumes bit for bit.
    func exportState() -> (tensors: [String: Tensor], step: Int)
    func importState(tensors: [String: Tensor], step: Int) throws(OptimizerStateError)
}

/// A checkpoint's optimiser state that does not fit the model being trained.
public struct OptimizerStateError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Scales every gradient so their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_:
/// factor maxNorm / (norm + 1e-6), applied only when below 1). Returns the norm before clipping.
@discardableResult
public func clipGradients(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var squares = 0.0
    for parameter in parameters {
        parameter.gradient.scalars.withUnsafeBufferPointer { g in for v in g { squares += Double(v) * Double(v) } }
    }
    let norm = Float(squares.squareRoot())
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 {
        for parameter in parameters {
            parameter.gradient.scalars.withUnsafeMutableBufferPointer { g in for i in g.indices { g[i] *= factor } }
        }
    }
    return norm
}

/// Per-parameter state slots, created on first use and checked on import.
struct OptimizerSlots {
    var tensors: [String: Tensor] = [:]

    /// Takes the slot out (zeros if it is new) for the caller to update and put back: held only by the
    /// caller, its storage is updated in place rather than copied on the first write.
    mutating func take(_ name: String, shaped like: Tensor) -> Tensor {
        tensors.removeValue(forKey: name) ?? Tensor(shape: like.shape)
    }

    static func validate(_ tensors: [String: Tensor], suffixes: Set<String>) throws(OptimizerStateError) {
        for name in tensors.keys {
            guard let dot = name.lastIndex(of: "."), suffixes.contains(String(name[name.index(after: dot)...])) else {
                throw OptimizerStateError("optimiser state '\(name)' has no known slot (\(suffixes.sorted().joined(separator: ", ")))")
            }
        }
    }
}
