import NN
import PlanetData

extension LossSpec {
    /// The loss this spec names, its `balanced` positive weights counted on the training chips.
    public func makeLoss(training chips: [DatasetChip]) -> any Loss {
        makeLoss(positiveWeights: positiveWeights.map { _ in Self.balancedPositiveWeights(chips) })
    }

    /// The loss this spec names with these positive weights (BCE's; soft F2 has none).
    public func makeLoss(positiveWeights weights: [Float]?) -> any Loss {
        switch kind {
        case .bce: BinaryCrossEntropy(positiveWeights: weights)
        case .softF2: SoftF2()
        case .bceAndSoftF2: WeightedLossSum.mean([BinaryCrossEntropy(positiveWeights: weights), SoftF2()])
        }
    }

    /// √(negatives / positives) per label over the training chips, between 1 and 10.
    public static func balancedPositiveWeights(_ chips: [DatasetChip]) -> [Float] {
        var positives = [Int](repeating: 0, count: PlanetLabels.count)
        for chip in chips { for label in chip.labels?.indices ?? [] { positives[label] += 1 } }
        return BinaryCrossEntropy.balancedPositiveWeights(positives: positives, total: chips.count)
    }
}
