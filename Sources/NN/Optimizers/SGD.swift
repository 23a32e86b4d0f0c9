import Tensor

/// Stochastic gradient descent with momentum, as torch.optim.SGD (dampening 0):
///   g ← ∇ + wd·θ;  b ← g on the first step, then μ·b + g;  d = g + μ·b (Nesterov) or b;  θ ← θ − lr·d
public final class SGD: Optimizer {
    public var learningRate: Float
    public var momentum: Float
    public var nesterov: Bool
    public var weightDecay: Float
    private var buffers = OptimizerSlots()
    private var steps = 0

    public init(learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) {
        precondition(!nesterov || momentum > 0, "Nesterov momentum needs momentum > 0")
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [(name: String, parameter: Parameter)]) {
        steps += 1
        for (name, parameter) in parameters {
            let key = name + ".momentum_buffer"
            let first = buffers.tensors[key] == nil
            var buffer = momentum > 0 ? buffers.take(key, shaped: parameter.value) : Tensor(shape: [0])
            let (lr, mu, wd, nesterov) = (learningRate, momentum, weightDecay, self.nesterov)
            parameter.value.scalars.withUnsafeMutableBufferPointer { theta in
                parameter.gradient.scalars.withUnsafeBufferPointer { gradient in
                    buffer.scalars.withUnsafeMutableBufferPointer { b in
                        Parallel.forEachChunk(theta.count, costPerItem: 4) { range in
                            for i in range {
                                let g = gradient[i] + wd * theta[i]
                                guard mu > 0 else {
                                    theta[i] -= lr * g
                                    continue
                                }
                                b[i] = first ? g : mu * b[i] + g
                                theta[i] -= lr * (nesterov ? g + mu * b[i] : b[i])
                            }
                        }
                    }
                }
            }
            if momentum > 0 { buffers.tensors[key] = buffer }
        }
    }

    public func exportState() -> (tensors: [String: Tensor], step: Int) { (buffers.tensors, steps) }

    public func importState(tensors: [String: Tensor], step: Int) throws(OptimizerStateError) {
        try OptimizerSlots.validate(tensors, suffixes: ["momentum_buffer"])
        buffers.tensors = tensors
        steps = step
    }
}
