import PlanetData

/// Everything one run reports: what was run, on which data, how each model, fold and the ensemble
/// scored per label, how each decision method scored, how training went, and a few sample chips.
/// Written as Markdown, CSV, JSON and one self-contained HTML page by `ReportWriter`.
public struct RunReport: Sendable, Equatable, Codable {
    public var title: String
    /// The command that made the run, e.g. "canopy run pipelines/resnet18.yaml".
    public var createdBy: String
    /// Free lines describing the data: source folder, chip counts, folds.
    public var dataset: [String]
    public var sections: [ReportSection]
    public var methods: [MethodScore]
    public var training: [TrainingCurve]
    public var samples: [SampleChip]
    public var notes: [String]

    public init(title: String, createdBy: String, dataset: [String] = [], sections: [ReportSection] = [],
                methods: [MethodScore] = [], training: [TrainingCurve] = [], samples: [SampleChip] = [],
                notes: [String] = []) {
        self.title = title
        self.createdBy = createdBy
        self.dataset = dataset
        self.sections = sections
        self.methods = methods
        self.training = training
        self.samples = samples
        self.notes = notes
    }
}

/// What a section's chips are: one model's fold, one model's out-of-fold whole, or the ensemble.
public enum SectionKind: String, Sendable, Codable, CaseIterable {
    case model, fold, ensemble
}

/// One set of decisions scored against the truth: summary scores, per-label metrics and curves.
public struct ReportSection: Sendable, Equatable, Codable {
    /// E.g. "resnet18 fold 2", "resnet18 out-of-fold", "ensemble".
    public var name: String
    public var kind: SectionKind
    public var chips: Int
    public var meanF2: Double
    public var microF2: Double
    public var macroF2: Double
    /// In label order. `averagePrecision` is nil for a label with no positive chip (undefined).
    public var labels: [LabelMetrics]
    public var curves: SectionCurves

    /// Builds a section; a NaN or infinite average precision is stored as nil (undefined), so every
    /// stored number is finite and the JSON form round-trips.
    public init(name: String, kind: SectionKind, chips: Int, meanF2: Double, microF2: Double, macroF2: Double,
                labels: [LabelMetrics], curves: SectionCurves) {
        self.name = name
        self.kind = kind
        self.chips = chips
        self.meanF2 = meanF2
        self.microF2 = microF2
        self.macroF2 = macroF2
        self.labels = labels.map { label in
            var label = label
            if let ap = label.averagePrecision, !ap.isFinite { label.averagePrecision = nil }
            return label
        }
        self.curves = curves
    }

    /// Scores `decided` (the tag sets actually chosen, by thresholds or any other rule) against
    /// `truth`; `probabilities` (17 per chip) give average precision, the precision-recall curves and
    /// the flat-threshold sweep; `thresholds` (17) are recorded per label.
    public static func make(name: String, kind: SectionKind, truth: [LabelSet], probabilities: [[Float]],
                            thresholds: [Float], decided: [LabelSet]) -> ReportSection {
        precondition(truth.count == probabilities.count && truth.count == decided.count,
                     "\(truth.count) true rows, \(probabilities.count) probability rows, \(decided.count) decided rows")
        precondition(thresholds.count == PlanetLabels.count, "\(thresholds.count) thresholds, not \(PlanetLabels.count)")
        precondition(probabilities.allSatisfy { $0.count == PlanetLabels.count }, "a probability row without 17 values")
        let labels = Metrics.perLabel(truth: truth, predicted: decided, probabilities: probabilities, thresholds: thresholds)
        let precisionRecall = (0..<PlanetLabels.count).map { label in
            let points = Metrics.precisionRecallCurve(scores: probabilities.map { $0[label] },
                                                      positives: truth.map { $0.contains(label) })
            return downsample(points.map { PRPoint(threshold: $0.threshold, precision: $0.precision, recall: $0.recall) },
                              to: maximumCurvePoints)
        }
        return ReportSection(
            name: name, kind: kind, chips: truth.count,
            meanF2: Metrics.meanF2(truth: truth, predicted: decided),
            microF2: Metrics.microF2(truth: truth, predicted: decided),
            macroF2: labels.reduce(0) { $0 + $1.f2 } / Double(labels.count),
            labels: labels,
            curves: SectionCurves(precisionRecall: precisionRecall,
                                  thresholdSweep: thresholdSweep(truth: truth, probabilities: probabilities)))
    }

    /// The most points a stored precision-recall curve keeps.
    public static let maximumCurvePoints = 100

    /// Mean F2 with one flat threshold for every label, at 0.01, 0.02, ..., 0.99.
    public static func thresholdSweep(truth: [LabelSet], probabilities: [[Float]]) -> [ThresholdPoint] {
        let steps = (1...99).map { Float($0) / 100 }
        guard !truth.isEmpty else { return steps.map { ThresholdPoint(threshold: $0, meanF2: 0) } }
        var sums = [Double](repeating: 0, count: steps.count)
        for (row, chipTruth) in zip(probabilities, truth) {
            for (k, t) in steps.enumerated() {
                var tp = 0, fp = 0
                for label in 0..<PlanetLabels.count where row[label] >= t {
                    if chipTruth.contains(label) { tp += 1 } else { fp += 1 }
                }
                sums[k] += Metrics.fScore(truePositives: tp, falsePositives: fp, falseNegatives: chipTruth.count - tp)
            }
        }
        return steps.indices.map { ThresholdPoint(threshold: steps[$0], meanF2: sums[$0] / Double(truth.count)) }
    }

    /// At most `limit` points, evenly spaced through `points`, keeping the first and the last.
    static func downsample<T>(_ points: [T], to limit: Int) -> [T] {
        guard points.count > limit, limit >= 2 else { return points }
        return (0..<limit).map { k in points[Int((Double(k) * Double(points.count - 1) / Double(limit - 1)).rounded())] }
    }

    /// The flat threshold with the best mean F2 in the sweep (the lowest on ties).
    public var bestFlatThreshold: ThresholdPoint? {
        curves.thresholdSweep.reduce(nil) { best, point in
            guard let best else { return point }
            return point.meanF2 > best.meanF2 ? point : best
        }
    }
}

/// A section's curves: per label a precision-recall curve (at most 100 points, highest threshold
/// first), and mean F2 against one flat threshold.
public struct SectionCurves: Sendable, Equatable, Codable {
    /// 17 curves, in label order; empty for a label with no positive chip.
    public var precisionRecall: [[PRPoint]]
    public var thresholdSweep: [ThresholdPoint]

    public init(precisionRecall: [[PRPoint]], thresholdSweep: [ThresholdPoint]) {
        self.precisionRecall = precisionRecall
        self.thresholdSweep = thresholdSweep
    }
}

public struct PRPoint: Sendable, Equatable, Codable {
    public var threshold: Float
    public var precision: Double
    public var recall: Double

    public init(threshold: Float, precision: Double, recall: Double) {
        self.threshold = threshold
        self.precision = precision
        self.recall = recall
    }
}

public struct ThresholdPoint: Sendable, Equatable, Codable {
    public var threshold: Float
    public var meanF2: Double

    public init(threshold: Float, meanF2: Double) {
        self.threshold = threshold
        self.meanF2 = meanF2
    }
}

/// One decision method's score: "p > 0.5", "global threshold", "per-label thresholds",
/// "expected F2", "TTA", "ensemble"... Out-of-fold always; on the test set when test labels exist.
public struct MethodScore: Sendable, Equatable, Codable {
    public var method: String
    public var outOfFoldMeanF2: Double
    public var testMeanF2: Double?

    public init(method: String, outOfFoldMeanF2: Double, testMeanF2: Double? = nil) {
        self.method = method
        self.outOfFoldMeanF2 = outOfFoldMeanF2
        self.testMeanF2 = testMeanF2
    }
}

/// One model's training on one fold, epoch by epoch.
public struct TrainingCurve: Sendable, Equatable, Codable {
    public var model: String
    public var fold: Int
    public var points: [TrainingPoint]

    public init(model: String, fold: Int, points: [TrainingPoint]) {
        self.model = model
        self.fold = fold
        self.points = points
    }
}

/// One epoch. A loss that diverged (NaN, infinite) is written to JSON as null and read back as NaN;
/// two points are equal when their numbers are equal or both not finite in the same way.
public struct TrainingPoint: Sendable, Codable {
    public var epoch: Int
    public var trainLoss: Double
    public var validationLoss: Double?
    public var validationMeanF2: Double?
    public var learningRate: Double
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, validationLoss: Double? = nil, validationMeanF2: Double? = nil,
                learningRate: Double, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.validationLoss = validationLoss
        self.validationMeanF2 = validationMeanF2
        self.learningRate = learningRate
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey { case epoch, trainLoss, validationLoss, validationMeanF2, learningRate, seconds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        trainLoss = try c.decodeIfPresent(Double.self, forKey: .trainLoss) ?? .nan
        // Optional numbers: absent means "not measured"; null means "measured, not finite".
        validationLoss = c.contains(.validationLoss) ? (try c.decodeIfPresent(Double.self, forKey: .validationLoss) ?? .nan) : nil
        validationMeanF2 = c.contains(.validationMeanF2) ? (try c.decodeIfPresent(Double.self, forKey: .validationMeanF2) ?? .nan) : nil
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? .nan
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds) ?? .nan
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func put(_ value: Double?, _ key: CodingKeys) throws {
            guard let value else { return }
            if value.isFinite { try c.encode(value, forKey: key) } else { try c.encodeNil(forKey: key) }
        }
        try c.encode(epoch, forKey: .epoch)
        try put(trainLoss, .trainLoss)
        try put(validationLoss, .validationLoss)
        try put(validationMeanF2, .validationMeanF2)
        try put(learningRate, .learningRate)
        try put(seconds, .seconds)
    }
}

extension TrainingPoint: Equatable {
    public static func == (a: TrainingPoint, b: TrainingPoint) -> Bool {
        func same(_ x: Double?, _ y: Double?) -> Bool {
            switch (x, y) {
            case (nil, nil): true
            case let (x?, y?): x == y || (x.isNaN && y.isNaN)
            default: false
            }
        }
        return a.epoch == b.epoch && same(a.trainLoss, b.trainLoss) && same(a.validationLoss, b.validationLoss)
            && same(a.validationMeanF2, b.validationMeanF2) && same(a.learningRate, b.learningRate) && same(a.seconds, b.seconds)
    }
}

/// A chip shown in the report's grid: its file, its true tags (nil for an unlabelled test chip),
/// the tags chosen for it, and optionally its 17 probabilities.
public struct SampleChip: Sendable, Equatable, Codable {
    public var name: String
    public var imagePath: String
    public var truth: LabelSet?
    public var predicted: LabelSet
    public var probabilities: [Float]?

    public init(name: String, imagePath: String, truth: LabelSet?, predicted: LabelSet, probabilities: [Float]? = nil) {
        self.name = name
        self.imagePath = imagePath
        self.truth = truth
        self.predicted = predicted
        self.probabilities = probabilities
    }
}

extension ReportSection {
    enum CodingKeys: String, CodingKey { case name, kind, chips, meanF2, microF2, macroF2, labels, curves }

    /// Labels are written with their derived scores too (name, support, precision, recall, f2), so
    /// the JSON serves readers that do not recompute them; reading takes the counts back and ignores
    /// the rest.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(kind, forKey: .kind)
        try c.encode(chips, forKey: .chips)
        try c.encode(meanF2, forKey: .meanF2)
        try c.encode(microF2, forKey: .microF2)
        try c.encode(macroF2, forKey: .macroF2)
        try c.encode(labels.map(LabelRow.init), forKey: .labels)
        try c.encode(curves, forKey: .curves)
    }

    private struct LabelRow: Encodable {
        var label: Int, name: String
        var truePositives: Int, falsePositives: Int, falseNegatives: Int, trueNegatives: Int
        var support: Int, precision: Double, recall: Double, f2: Double
        var threshold: Float?, averagePrecision: Double?

        init(_ m: LabelMetrics) {
            label = m.label
            name = m.name
            truePositives = m.truePositives
            falsePositives = m.falsePositives
            falseNegatives = m.falseNegatives
            trueNegatives = m.trueNegatives
            support = m.support
            precision = m.precision
            recall = m.recall
            f2 = m.f2
            threshold = m.threshold.flatMap { $0.isFinite ? $0 : nil }
            averagePrecision = m.averagePrecision.flatMap { $0.isFinite ? $0 : nil }
        }
    }
}
