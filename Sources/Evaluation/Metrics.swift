import PlanetData

/// The competition's metric and its per-label parts.
///
/// Mean F2 is computed per chip and averaged over chips: for each chip p = tp/(tp+fp),
/// r = tp/(tp+fn) over its 17 labels, F2 = 5pr/(4p+r), and 0 when tp = 0 (a chip with no true and
/// no predicted tag included) — sklearn's `fbeta_score(y_true, y_pred, beta=2, average='samples')`.
public enum Metrics {
    /// F-beta of one chip from its counts: (1+β²)·tp / ((1+β²)·tp + β²·fn + fp), 0 when tp = 0.
    @inlinable
    public static func fScore(truePositives tp: Int, falsePositives fp: Int, falseNegatives fn: Int, beta: Double = 2) -> Double {
        guard tp > 0 else { return 0 }
        let b2 = beta * beta
        return (1 + b2) * Double(tp) / ((1 + b2) * Double(tp) + b2 * Double(fn) + Double(fp))
    }

    /// F2 of one chip.
    @inlinable
    public static func f2(truth: LabelSet, predicted: LabelSet) -> Double {
        let tp = (truth.mask & predicted.mask).nonzeroBitCount
        let fp = (predicted.mask & ~truth.mask).nonzeroBitCount
        let fn = (truth.mask & ~predicted.mask).nonzeroBitCount
        return fScore(truePositives: tp, falsePositives: fp, falseNegatives: fn)
    }

    /// The competition metric: F2 per chip, averaged over chips (0 for no chips).
    public static func meanF2(truth: [LabelSet], predicted: [LabelSet]) -> Double {
        precondition(truth.count == predicted.count, "\(truth.count) true rows, \(predicted.count) predicted")
        guard !truth.isEmpty else { return 0 }
        var sum = 0.0
        for i in truth.indices { sum += f2(truth: truth[i], predicted: predicted[i]) }
        return sum / Double(truth.count)
    }

    /// F2 over every (chip, label) decision pooled together.
    public static func microF2(truth: [LabelSet], predicted: [LabelSet]) -> Double {
        var tp = 0, fp = 0, fn = 0
        for i in truth.indices {
            tp += (truth[i].mask & predicted[i].mask).nonzeroBitCount
            fp += (predicted[i].mask & ~truth[i].mask).nonzeroBitCount
            fn += (truth[i].mask & ~predicted[i].mask).nonzeroBitCount
        }
        return fScore(truePositives: tp, falsePositives: fp, falseNegatives: fn)
    }

    /// The mean of the per-label F2 scores (labels with no true and no predicted chip count as 0,
    /// as sklearn's `average='macro'` does).
    public static func macroF2(truth: [LabelSet], predicted: [LabelSet]) -> Double {
        let labels = perLabel(truth: truth, predicted: predicted)
        return labels.reduce(0) { $0 + $1.f2 } / Double(labels.count)
    }

    /// Tags from probabilities: label l is predicted when p ≥ thresholds[l].
    public static func decide(_ probabilities: [Float], thresholds: [Float]) -> LabelSet {
        var mask: UInt32 = 0
        for label in 0..<PlanetLabels.count where probabilities[label] >= thresholds[label] { mask |= 1 << UInt32(label) }
        return LabelSet(mask: mask)
    }

    /// Per-label counts and scores, in label order. `probabilities` (one row of 17 per chip), when
    /// given, adds each label's average precision.
    public static func perLabel(truth: [LabelSet], predicted: [LabelSet], probabilities: [[Float]]? = nil,
                                thresholds: [Float]? = nil) -> [LabelMetrics] {
        (0..<PlanetLabels.count).map { label in
            var tp = 0, fp = 0, fn = 0, tn = 0
            for i in truth.indices {
                switch (truth[i].contains(label), predicted[i].contains(label)) {
                case (true, true): tp += 1
                case (false, true): fp += 1
                case (true, false): fn += 1
                case (false, false): tn += 1
                }
            }
            let ap = probabilities.map { rows in averagePrecision(scores: rows.map { $0[label] }, positives: truth.map { $0.contains(label) }) }
            return LabelMetrics(label: label, truePositives: tp, falsePositives: fp, falseNegatives: fn, trueNegatives: tn,
                                threshold: thresholds?[label], averagePrecision: ap)
        }
    }

    /// Average precision (the area under the precision-recall step curve, sklearn's
    /// `average_precision_score`): Σ (R_k − R_{k−1}) · P_k over the distinct scores, highest first.
    /// NaN when there is no positive.
    public static func averagePrecision(scores: [Float], positives: [Bool]) -> Double {
        let totalPositives = positives.filter { $0 }.count
        guard totalPositives > 0 else { return .nan }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, fp = 0, previousRecall = 0.0, sum = 0.0
        var k = 0
        while k < order.count {
            // Ties share one threshold: take the whole run of equal scores at once.
            let score = scores[order[k]]
            while k < order.count && scores[order[k]] == score {
                if positives[order[k]] { tp += 1 } else { fp += 1 }
                k += 1
            }
            let recall = Double(tp) / Double(totalPositives), precision = Double(tp) / Double(tp + fp)
            sum += (recall - previousRecall) * precision
            previousRecall = recall
        }
        return sum
    }

    /// Precision and recall of one label at each distinct score used as the threshold, highest first
    /// (the points of a precision-recall curve).
    public static func precisionRecallCurve(scores: [Float], positives: [Bool]) -> [(threshold: Float, precision: Double, recall: Double)] {
        let totalPositives = positives.filter { $0 }.count
        guard totalPositives > 0 else { return [] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var points: [(Float, Double, Double)] = []
        var tp = 0, fp = 0, k = 0
        while k < order.count {
            let score = scores[order[k]]
            while k < order.count && scores[order[k]] == score {
                if positives[order[k]] { tp += 1 } else { fp += 1 }
                k += 1
            }
            points.append((score, Double(tp) / Double(tp + fp), Double(tp) / Double(totalPositives)))
        }
        return points
    }
}

/// One label's confusion counts and scores over a set of chips.
public struct LabelMetrics: Sendable, Equatable, Codable {
    public var label: Int
    public var truePositives: Int
    public var falsePositives: Int
    public var falseNegatives: Int
    public var trueNegatives: Int
    /// The threshold the decisions used, when they came from one.
    public var threshold: Float?
    /// Average precision of the label's probabilities, when they were given (NaN: no positive chip).
    public var averagePrecision: Double?

    public var name: String { PlanetLabels.names[label] }
    /// Chips that truly carry the label.
    public var support: Int { truePositives + falseNegatives }
    /// 0 when nothing was predicted (sklearn's zero_division=0).
    public var precision: Double { truePositives + falsePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives) }
    public var recall: Double { support == 0 ? 0 : Double(truePositives) / Double(support) }
    public var f2: Double { Metrics.fScore(truePositives: truePositives, falsePositives: falsePositives, falseNegatives: falseNegatives) }
}
