import Foundation
import Tensor

/// Adam (Kingma & Ba 2014) as torch.optim.Adam, or AdamW (Loshchilov & Hutter 2017) as
/// torch.optim.AdamW when `decoupledWeightDecay` is set:
///   Adam:  g ← ∇ + wd·θ            AdamW: θ ← θ·(1 − lr·wd), g ← ∇
///   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
///   θ ← θ − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
public final class Adam: Optimizer {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    public let decoupledWeightDecay: Bool
    private var moments = OptimizerSlots()
    private var steps = 0

    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                weightDecay: Float = 0, decoupledWeightDecay: Bool = false) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    /// AdamW with torch's default weight decay of 0.01.
    public static func adamW(learningRate: Float = 1e-3, weightDecay: Float = 0.01) -> Adam {
        Adam(learningRate: learningRate, weightDecay: weightDecay, decoupledWeightDecay: true)
    }

    public func step(_ parameters: [(name: String, parameter: Parameter)]) {
        steps += 1
        let t = Double(steps)
        let correction1 = Float(1 - pow(Double(beta1), t))
        let correction2Root = Float((1 - pow(Double(beta2), t)).squareRoot())
        let stepSize = learningRate / correction1
        let (b1, b2, eps, lr, wd, decoupled) = (beta1, beta2, epsilon, learningRate, weightDecay, decoupledWeightDecay)
        for (name, parameter) in parameters {
            var m = moments.take(name + ".exp_avg", shaped: parameter.value)
            var v = moments.take(name + ".exp_avg_sq", shaped: parameter.value)
            parameter.value.scalars.withUnsafeMutableBufferPointer { theta in
                parameter.gradient.scalars.withUnsafeBufferPointer { gradient in
                    m.scalars.withUnsafeMutableBufferPointer { mp in
                        v.scalars.withUnsafeMutableBufferPointer { vp in
                            Parallel.forEachChunk(theta.count, costPerItem: 8) { range in
                                for i in range {
                                    var g = gradient[i]
                                    if decoupled { theta[i] *= 1 - lr * wd } else { g += wd * theta[i] }
                                    mp[i] = b1 * mp[i] + (1 - b1) * g
                                    vp[i] = b2 * vp[i] + (1 - b2) * g * g
                                    theta[i] -= stepSize * mp[i] / (vp[i].squareRoot() / correction2Root + eps)
                                }
                            }
                        }
                    }
                }
            }
            moments.tensors[name + ".exp_avg"] = m
            moments.tensors[name + ".exp_avg_sq"] = v
        }
    }

    public func exportState() -> (tensors: [String: Tensor], step: Int) { (moments.tensors, steps) }

    public func importState(tensors: [String: Tensor], step: Int) throws(OptimizerStateError) {
        try OptimizerSlots.validate(tensors, suffixes: ["exp_avg", "exp_avg_sq"])
        moments.tensors = tensors
        steps = step
    }
}
