import Foundation
import PlanetData

/// What a weighted, smoothed binary cross-entropy does to a network's probabilities, and its undoing.
///
/// BCE with positive weight w and a target y is minimised at p with odds(p) = w · odds(y); label
/// smoothing ε trains against y = (1 − ε)·q + ε/2, q the label's true probability. So a network
/// trained that way, where it is right, gives
///
///     p = σ(logit((1 − ε)·q + ε/2) + log w)          and back:   q = (σ(logit(p) − log w) − ε/2) / (1 − ε)
///
/// A rare label weighted 10 (`positive_weights: balanced`) with ε = 0.05 sits near p = 0.2 on a chip
/// without it, where a frequent label weighted 1 sits near 0.025: one threshold means something
/// different for each. Thresholds tuned on q and mapped back to p (`biased`) put every label on the
/// same scale; the mapping is monotone per label, so a threshold on q is the same decision as its image
/// on p, and the decision file keeps thresholds on the network's own probabilities.
public struct TrainingBias: Equatable, Sendable {
    /// Per label, log w: the log of the odds factor the positive weight gave.
    public let logOddsFactors: [Double]
    /// The label smoothing ε of the BCE targets.
    public let smoothing: Double
    /// Per label, w itself: exp(log w) once, not on every probability mapped.
    private let oddsFactors: [Double]

    /// Nothing to undo: q = p.
    public static let none = TrainingBias(logOddsFactors: [Double](repeating: 0, count: PlanetLabels.count), smoothing: 0)

    public init(logOddsFactors: [Double], smoothing: Double) {
        precondition(logOddsFactors.count == PlanetLabels.count, "\(logOddsFactors.count) odds factors")
        precondition((0..<0.5).contains(smoothing), "label smoothing \(smoothing) outside [0, 0.5)")
        self.logOddsFactors = logOddsFactors
        self.smoothing = smoothing
        oddsFactors = logOddsFactors.map { exp($0) }
    }

    /// BCE's positive weights (nil: all 1) and label smoothing.
    public init(positiveWeights: [Float]?, smoothing: Float) {
        self.init(logOddsFactors: positiveWeights.map { $0.map { log(Double($0)) } } ?? Self.none.logOddsFactors,
                  smoothing: Double(smoothing))
    }

    /// The bias of an average of networks' probabilities, as the weighted average of their log odds
    /// factors and smoothings: exact when they agree, an approximation otherwise.
    public static func average(_ biases: [TrainingBias], weights: [Double]? = nil) -> TrainingBias {
        precondition(!biases.isEmpty, "no biases to average")
        let weights = weights ?? [Double](repeating: 1, count: biases.count)
        precondition(weights.count == biases.count && weights.allSatisfy { $0 >= 0 } && weights.reduce(0, +) > 0, "bad weights \(weights)")
        let total = weights.reduce(0, +)
        let factors = (0..<PlanetLabels.count).map { l in zip(biases, weights).reduce(0) { $0 + $1.0.logOddsFactors[l] * $1.1 } / total }
        return TrainingBias(logOddsFactors: factors, smoothing: zip(biases, weights).reduce(0) { $0 + $1.0.smoothing * $1.1 } / total)
    }

    public var isNone: Bool { smoothing == 0 && logOddsFactors.allSatisfy { $0 == 0 } }

    /// q: the probability with the training's weighting and smoothing undone, in [0, 1] (a network
    /// below the smoothed floor ε/2 gives 0, above 1 − ε/2 gives 1).
    public func unbiased(_ p: Float, label: Int) -> Float {
        guard !p.isNaN else { return p }
        let odds = Double(p) / (1 - Double(p)) / oddsFactors[label]
        let target = p >= 1 ? 1 : odds / (1 + odds)
        return Float(min(1, max(0, (target - smoothing / 2) / (1 - smoothing))))
    }

    /// p: the network's probability at which the unbiased one is `q`.
    public func biased(_ q: Float, label: Int) -> Float {
        let target = (1 - smoothing) * Double(q) + smoothing / 2
        guard target > 0, target < 1 else { return q }
        let odds = target / (1 - target) * oddsFactors[label]
        return Float(odds / (1 + odds))
    }

    public func unbiased(rows: [[Float]]) -> [[Float]] {
        rows.map { row in row.indices.map { unbiased(row[$0], label: $0) } }
    }

    public func biased(thresholds: [Float]) -> [Float] {
        thresholds.indices.map { biased(thresholds[$0], label: $0) }
    }
}
