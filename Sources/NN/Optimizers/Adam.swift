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
                            let update = AdamUpdate(theta: theta.baseAddress!, gradient: gradient.baseAddress!, m: mp.baseAddress!,
                                                    v: vp.baseAddress!, beta1: b1, beta2: b2, epsilon: eps, stepSize: stepSize,
                                                    correction2Root: correction2Root, decay: wd, decayFactor: 1 - lr * wd)
                            Parallel.forEachChunk(theta.count, costPerItem: 8) { range in
                                decoupled ? update.run(range, AdamUpdate.Decoupled.self) : update.run(range, AdamUpdate.Coupled.self)
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

/// One Adam step over a range of one parameter, eight lanes at a time (the scalar tail runs the same
/// operations in the same order, so every element gets the same bits either way):
///   g ← ∇ (+ wd·θ) or θ ← θ·(1 − lr·wd);  m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g·g;
///   θ ← θ − (lr/(1 − β1ᵗ))·m / (√v / √(1 − β2ᵗ) + ε)
private struct AdamUpdate {
    let theta: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>
    let m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let beta1: Float, beta2: Float, epsilon: Float, stepSize: Float, correction2Root: Float
    /// L2 weight decay added to the gradient (Adam), and AdamW's shrink factor 1 − lr·wd.
    let decay: Float, decayFactor: Float

    /// Where the weight decay goes: into the gradient (Adam) or onto the weights (AdamW).
    protocol Variant { static func gradient<V: SIMD>(_ g: V, _ theta: inout V, _ update: AdamUpdate) -> V where V.Scalar == Float }
    enum Coupled: Variant {
        static func gradient<V: SIMD>(_ g: V, _ theta: inout V, _ update: AdamUpdate) -> V where V.Scalar == Float { g + update.decay * theta }
    }
    enum Decoupled: Variant {
        static func gradient<V: SIMD>(_ g: V, _ theta: inout V, _ update: AdamUpdate) -> V where V.Scalar == Float {
            theta *= update.decayFactor
            return g
        }
    }

    /// The step on lanes of values: the new (θ, m, v).
    @inline(__always)
    func step<V: LaneSquareRoot, W: Variant>(_ theta: V, _ gradient: V, _ m: V, _ v: V, _ variant: W.Type) -> (V, V, V) {
        var t = theta
        let g = W.gradient(gradient, &t, self)
        let mi = beta1 * m + (1 - beta1) * g
        let vi = beta2 * v + (1 - beta2) * g * g
        t -= stepSize * mi / (vi.laneSquareRoot() / correction2Root + epsilon)
        return (t, mi, vi)
    }

    func run<W: Variant>(_ range: Range<Int>, _ variant: W.Type) {
        func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> { UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) }
        func store(_ x: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) { UnsafeMutableRawPointer(p + i).storeBytes(of: x, as: SIMD8<Float>.self) }
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let (t, mi, vi) = step(load(theta, i), load(gradient, i), load(m, i), load(v, i), variant)
            (store(mi, m, i), store(vi, v, i), store(t, theta, i))
            i += 8
        }
        // The tail in lane 0 of a pair (the same operations, so the same bits as a full group's).
        while i < range.upperBound {
            let (t, mi, vi) = step(SIMD2(theta[i], 0), SIMD2(gradient[i], 0), SIMD2(m[i], 0), SIMD2(v[i], 0), variant)
            (theta[i], m[i], v[i]) = (t[0], mi[0], vi[0])
            i += 1
        }
    }
}
