import Tensor

/// Label smoothing for a multi-label (per-label sigmoid) loss: `base` is given the targets
///   y′ = y·(1 − ε) + ε/2
/// instead of y (a 1 becomes 1 − ε/2, a 0 becomes ε/2, a mixup target t in between stays in between),
/// so BCE's optimum is a finite logit, ±log((1 − ε/2)/(ε/2)), rather than ±∞. The targets are
/// constants, so the gradient with respect to the logits is `base`'s at y′ and nothing more.
public struct LabelSmoothing: Loss {
    public var epsilon: Float
    public var base: any Loss

    public init(epsilon: Float, _ base: any Loss) {
        precondition(epsilon >= 0 && epsilon < 0.5, "label smoothing \(epsilon) is outside 0..<0.5")
        self.epsilon = epsilon
        self.base = base
    }

    /// y·(1 − ε) + ε/2, element by element.
    public static func smooth(_ targets: Tensor, epsilon: Float) -> Tensor {
        var smoothed = targets
        let keep = 1 - epsilon, floor = epsilon / 2
        for i in smoothed.scalars.indices { smoothed.scalars[i] = smoothed.scalars[i] * keep + floor }
        return smoothed
    }

    public func lossAndGradient(logits: Tensor, targets: Tensor) -> (loss: Float, gradient: Tensor) {
        base.lossAndGradient(logits: logits, targets: Self.smooth(targets, epsilon: epsilon))
    }
}
