import NN
import PlanetData

extension LossSpec {
    /// The loss this spec names, its `balanced` positive weights counted on the training chips.
    public func makeLoss(training chips: [DatasetChip]) -> any Loss {
        makeLoss(positiveWeights: positiveWeights.map { _ in Self.balancedPositiveWeights(chips) })
    }

    /// The loss this spec names with these positive weights (BCE's; soft F2 has none). Label
    /// smoothing wraps the BCE term only: soft F2 scores the targets as given (smoothed, a negative's
    /// ε/2 would count as a sliver of a true positive, a score no prediction can make perfect). At
    /// ε = 0 there is no wrapper: the loss is the one made before the setting existed.
    public func makeLoss(positiveWeights weights: [Float]?) -> any Loss {
        var bce: any Loss = BinaryCrossEntropy(positiveWeights: weights)
        if labelSmoothing > 0 { bce = LabelSmoothing(epsilon: labelSmoothing, bce) }
        return switch kind {
        case .bce: bce
        case .softF2: SoftF2()
        case .bceAndSoftF2: WeightedLossSum.mean([bce, SoftF2()])
        }
    }

    /// √(negatives / positives) per label over the training chips, between 1 and 10.
    public static func balancedPositiveWeights(_ chips: [DatasetChip]) -> [Float] {
        var positives = [Int](repeating: 0, count: PlanetLabels.count)
        for chip in chips { for label in chip.labels?.indices ?? [] { positives[label] += 1 } }
        return BinaryCrossEntropy.balancedPositiveWeights(positives: positives, total: chips.count)
    }
}
