import Foundation

/// Multi-label losses on logits [L, N] (labels × batch, the engine's feature-major layout) against
/// targets in {0, 1} of the same shape. Each returns the mean loss and its gradient w.r.t. the logits.
public enum Loss {
    /// Binary cross-entropy from logits, PyTorch's `BCEWithLogitsLoss(pos_weight:)` with mean reduction:
    ///   ℓ = (1 − y)·x + (1 + (p − 1)·y) · (log(1 + e^−|x|) + max(−x, 0))
    /// which never evaluates log(sigmoid(x)) and so stays finite for any x.
    ///   ∂ℓ/∂x = (1 + (p − 1)·y) · σ(x) − p·y  … divided by L·N for the mean.
    /// `positiveWeights` (one per label, default 1) raise the cost of missed positives (rare labels).
    public static func binaryCrossEntropy(logits: Tensor, targets: Tensor, positiveWeights: [Float]? = nil)
        -> (loss: Float, gradient: Tensor) {
        precondition(logits.shape == targets.shape && logits.rank == 2, "logits \(logits.shape), targets \(targets.shape)")
        let labels = logits.shape[0], n = logits.shape[1]
        if let positiveWeights { precondition(positiveWeights.count == labels) }
        var gradient = Tensor(shape: logits.shape)
        var total = 0.0
        let scale = 1 / Float(logits.count)
        for l in 0..<labels {
            let p = positiveWeights?[l] ?? 1
            for i in 0..<n {
                let at = l * n + i, x = logits.scalars[at], y = targets.scalars[at]
                let weight = 1 + (p - 1) * y
                let softplus = Foundation.log1p(Foundation.exp(-abs(x))) + max(-x, 0)
                total += Double((1 - y) * x + weight * softplus)
                gradient.scalars[at] = (weight * sigmoid(x) - p * y) * scale
            }
        }
        return (Float(total / Double(logits.count)), gradient)
    }

    /// Differentiable ("soft") F2 on probabilities σ(x), per image then averaged, as 1 − mean F2:
    ///   tp = Σ σ·y, fp = Σ σ·(1 − y), fn = Σ (1 − σ)·y,  F2 = 5·tp / (5·tp + 4·fn + fp + ε)
    /// It optimises the competition metric directly; in practice it is mixed with BCE.
    public static func softF2(logits: Tensor, targets: Tensor, epsilon: Float = 1e-7) -> (loss: Float, gradient: Tensor) {
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
