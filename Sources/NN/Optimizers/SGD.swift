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
                        let count = theta.count
                        let (theta, gradient, b) = (theta.baseAddress!, gradient.baseAddress!, b.baseAddress)
                        // One loop per case, without branches inside, so each vectorises.
                        Parallel.forEachChunk(count, costPerItem: 4) { range in
                            guard mu > 0, let b else {
                                for i in range { theta[i] -= lr * (gradient[i] + wd * theta[i]) }
                                return
                            }
                            switch (first, nesterov) {
                            case (true, false):
                                for i in range {
                                    let g = gradient[i] + wd * theta[i]
                                    b[i] = g
                                    theta[i] -= lr * g
                                }
                            case (true, true):
                                for i in range {
                                    let g = gradient[i] + wd * theta[i]
                                    b[i] = g
                                    theta[i] -= lr * (g + mu * g)
                                }
                            case (false, false):
                                for i in range {
                                    let g = gradient[i] + wd * theta[i], velocity = mu * b[i] + g
                                    b[i] = velocity
                                    theta[i] -= lr * velocity
                                }
                            case (false, true):
                                for i in range {
                                    let g = gradient[i] + wd * theta[i], velocity = mu * b[i] + g
                                    b[i] = velocity
                                    theta[i] -= lr * (g + mu * velocity)
                                }
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
