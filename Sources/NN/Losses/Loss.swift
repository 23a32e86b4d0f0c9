import Tensor

/// A multi-label training loss on logits [L, N] (labels × batch, the engine's feature-major layout)
/// against targets in [0, 1] of the same shape (0/1 labels, or soft ones under label smoothing or
/// mixup): the mean loss over the batch and its gradient with respect to the logits (what
/// `Layer.backward` takes).
public protocol Loss {
    func lossAndGradient(logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor)
}

/// Σ weightₖ · lossₖ, value and gradient. Terms are added in their order, starting from the first
/// (never from 0, which would turn a −0 into +0). When every weight is the same w the sum is taken
/// first and scaled once, w · (a + b + …): for the mean of two losses that is (a + b) / 2 to the bit.
public struct WeightedLossSum: Loss {
    public var terms: [(weight: Float, loss: any Loss)]

    public init(_ terms: [(weight: Float, loss: any Loss)]) {
        precondition(!terms.isEmpty, "a sum of no losses")
        self.terms = terms
    }

    /// The mean of `losses` (each weighted 1/n).
    public static func mean(_ losses: [any Loss]) -> WeightedLossSum {
        WeightedLossSum(losses.map { (weight: 1 / Float(losses.count), loss: $0) })
    }

    public func lossAndGradient(logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        let parts = terms.map { $0.loss.lossAndGradient(logits: logits, targets: targets) }
        let common = terms.allSatisfy { $0.weight == terms[0].weight } ? terms[0].weight : nil
        var loss: Float
        var gradient = parts[0].gradient
        if let common {
            loss = parts[0].loss
            for part in parts.dropFirst() { loss += part.loss }
            loss *= common
            for i in gradient.scalars.indices {
                var sum = parts[0].gradient.scalars[i]
                for part in parts.dropFirst() { sum += part.gradient.scalars[i] }
                gradient.scalars[i] = sum * common
            }
        } else {
            loss = terms[0].weight * parts[0].loss
            for (term, part) in zip(terms, parts).dropFirst() { loss += term.weight * part.loss }
            for i in gradient.scalars.indices {
                var sum = terms[0].weight * parts[0].gradient.scalars[i]
                for (term, part) in zip(terms, parts).dropFirst() { sum += term.weight * part.gradient.scalars[i] }
                gradient.scalars[i] = sum
            }
        }
        return (loss, gradient)
    }
}
