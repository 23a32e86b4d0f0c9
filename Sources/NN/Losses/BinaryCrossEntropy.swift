import Foundation
import Tensor

/// Binary cross-entropy from logits, PyTorch's `BCEWithLogitsLoss(pos_weight:)` with mean reduction:
///   ℓ = (1 − y)·x + (1 + (p − 1)·y) · (log(1 + e^−|x|) + max(−x, 0))
/// which never evaluates log(sigmoid(x)) and so stays finite for any x.
///   ∂ℓ/∂x = (1 + (p − 1)·y) · σ(x) − p·y  … divided by L·N for the mean.
/// `positiveWeights` (one per label, default 1) raise the cost of missed positives (rare labels).
/// Both are linear in y, so a soft target t ∈ [0, 1] (label smoothing, mixup) is exactly
/// t·(the loss at y = 1) + (1 − t)·(the loss at y = 0).
public struct BinaryCrossEntropy: Loss {
    public var positiveWeights: [Float]?

    public init(positiveWeights: [Float]? = nil) {
        self.positiveWeights = positiveWeights
    }

    public func lossAndGradient(logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
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

    /// "balanced" positive weights: √(negatives / positives) per label, kept between 1 and 10, from
    /// each label's count of positives among `total` examples (a label with none counts as one).
    public static func balancedPositiveWeights(positives: [Int], total: Int) -> [Float] {
        positives.map { p in min(max((Float(total - p) / Float(max(p, 1))).squareRoot(), 1), 10) }
    }
}
