import Tensor

/// Differentiable ("soft") F2 on probabilities σ(x), per image then averaged, as 1 − mean F2:
///   tp = Σ σ·y, fp = Σ σ·(1 − y), fn = Σ (1 − σ)·y,  F2 = 5·tp / (5·tp + 4·fn + fp + ε)
/// It optimises the competition metric directly; in practice it is mixed with BCE.
public struct SoftF2: Loss {
    public var epsilon: Float

    public init(epsilon: Float = 1e-7) {
        self.epsilon = epsilon
    }

    public func lossAndGradient(logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        precondition(logits.shape == targets.shape && logits.rank == 2)
        let labels = logits.shape[0], n = logits.shape[1]
        var gradient = Tensor(shape: logits.shape)
        var totalF2 = 0.0
        for i in 0..<n {
            var tp: Float = 0, fp: Float = 0, fn: Float = 0
            for l in 0..<labels {
                let s = sigmoid(logits.scalars[l * n + i]), y = targets.scalars[l * n + i]
                tp += s * y
                fp += s * (1 - y)
                fn += (1 - s) * y
            }
            let denominator = 5 * tp + 4 * fn + fp + epsilon
            let f2 = 5 * tp / denominator
            totalF2 += Double(f2)
            // With tp + fn = Σy fixed, D = tp + 4·Σy + fp + ε:
            //   ∂F2/∂σ = 5·(y·D − tp) / D²   (∂tp/∂σ = y, ∂fp/∂σ = 1 − y, ∂fn/∂σ = −y)
            let d = denominator
            for l in 0..<labels {
                let at = l * n + i
                let s = sigmoid(logits.scalars[at]), y = targets.scalars[at]
                let dF2dS = 5 * (y * d - tp) / (d * d)
                gradient.scalars[at] = -dF2dS * s * (1 - s) / Float(n)
            }
        }
        return (Float(1 - totalF2 / Double(n)), gradient)
    }
}
