import PlanetData

/// Per-label ridge stacking (the 1st-place solution's way to use label correlation): for each label l,
/// a linear model from all models' 17 probabilities (models × 17 features, plus a bias) to the 0/1
/// target of l, so e.g. a confident "cloudy" from any model can lower every ground label.
///
/// Closed form: w = (XᵀX + λD)⁻¹ Xᵀy with D the identity except 0 for the bias (the bias is not
/// shrunk), solved by Cholesky in Double. XᵀX is the same for all 17 labels, so one factorisation
/// serves them all. With λ > 0 the system is positive definite whatever the data; with λ = 0 and
/// collinear features a tiny ridge (1e-10 of the largest diagonal, growing) is added until it factors.
/// Outputs are clipped to [0, 1].
public struct RidgeStacker: Sendable, Equatable, Codable {
    public static let defaultLambda = 1.0

    /// How many models' tables it takes, in order.
    public var models: Int
    public var lambda: Double
    /// 17 rows (one per target label) of models·17 feature weights (model m, label k at m·17 + k)
    /// followed by the bias.
    public var weights: [[Double]]

    public init(models: Int, lambda: Double, weights: [[Double]]) {
        precondition(weights.count == PlanetLabels.count && weights.allSatisfy { $0.count == models * PlanetLabels.count + 1 },
                     "weights must be 17 rows of models·17 + 1")
        self.models = models
        self.lambda = lambda
        self.weights = weights
    }

    /// Fits on out-of-fold tables (one per model, aligned) and the chips' true labels.
    public static func fit(oof: [ProbabilityTable], truth: [LabelSet], lambda: Double = defaultLambda) throws(DataError) -> RidgeStacker {
        try ProbabilityTable.checkAligned(oof, context: "out-of-fold tables")
        try Ensemble.checkTruth(truth, chips: oof[0].count)
        precondition(lambda >= 0 && lambda.isFinite, "ridge lambda \(lambda)")
        var system = NormalEquations(features: oof.count * PlanetLabels.count + 1)
        for chip in 0..<truth.count { system.add(features(oof, chip: chip), truth: truth[chip]) }
        return RidgeStacker(models: oof.count, lambda: lambda, weights: system.solve(lambda: lambda))
    }

    /// Honest out-of-fold stacked probabilities: the chips of each fold (`folds[chip]` is its fold
    /// index, any integers) are predicted by a stacker fitted on the chips of every other fold only.
    /// At least two folds are needed.
    public static func outOfFold(oof: [ProbabilityTable], truth: [LabelSet], folds: [Int], lambda: Double = defaultLambda) throws(DataError) -> ProbabilityTable {
        try ProbabilityTable.checkAligned(oof, context: "out-of-fold tables")
        try Ensemble.checkTruth(truth, chips: oof[0].count)
        precondition(lambda >= 0 && lambda.isFinite, "ridge lambda \(lambda)")
        guard folds.count == truth.count else {
            throw DataError(file: "out-of-fold tables", problem: "\(truth.count) chips but \(folds.count) fold indices")
        }
        let foldIDs = Array(Set(folds)).sorted()
        guard foldIDs.count >= 2 else {
            throw DataError(file: "out-of-fold tables", problem: "stacking out of fold needs at least 2 folds, got \(foldIDs.count)")
        }
        let featureCount = oof.count * PlanetLabels.count + 1
        // One set of normal equations per fold; a fold's training system is the sum of the others.
        var perFold: [Int: NormalEquations] = [:]
        for id in foldIDs { perFold[id] = NormalEquations(features: featureCount) }
        for chip in 0..<truth.count { perFold[folds[chip]]!.add(features(oof, chip: chip), truth: truth[chip]) }
        var rows = [[Float]](repeating: [], count: truth.count)
        for id in foldIDs {
            var training = NormalEquations(features: featureCount)
            for other in foldIDs where other != id { training.merge(perFold[other]!) }
            let stacker = RidgeStacker(models: oof.count, lambda: lambda, weights: training.solve(lambda: lambda))
            for chip in 0..<truth.count where folds[chip] == id { rows[chip] = stacker.predict(features(oof, chip: chip)) }
        }
        return ProbabilityTable(names: oof[0].names, rows: rows)
    }

    /// Stacked probabilities for `tables` (the same models, in the order it was fitted with).
    public func apply(_ tables: [ProbabilityTable]) throws(DataError) -> ProbabilityTable {
        try ProbabilityTable.checkAligned(tables, context: "stacking")
        guard tables.count == models else {
            throw DataError(file: "stacking", problem: "\(tables.count) tables, the stacker was fitted on \(models) models")
        }
        let rows = (0..<tables[0].count).map { predict(Self.features(tables, chip: $0)) }
        return ProbabilityTable(names: tables[0].names, rows: rows)
    }

    func predict(_ x: [Double]) -> [Float] {
        weights.map { w in
            var sum = 0.0
            for i in 0..<x.count { sum += w[i] * x[i] }
            return Float(min(1, max(0, sum)))
        }
    }

    /// The chip's feature vector: every model's 17 probabilities, then 1 for the bias.
    static func features(_ tables: [ProbabilityTable], chip: Int) -> [Double] {
        var x = [Double](repeating: 1, count: tables.count * PlanetLabels.count + 1)
        for (m, table) in tables.enumerated() {
            for label in 0..<PlanetLabels.count { x[m * PlanetLabels.count + label] = Double(table.rows[chip][label]) }
        }
        return x
    }
}

/// XᵀX (upper triangle, row-major n×n) and Xᵀy for the 17 targets, accumulated chip by chip.
struct NormalEquations {
    let n: Int
    var gram: [Double]
    var moments: [[Double]]  // 17 × n

    init(features n: Int) {
        self.n = n
        gram = [Double](repeating: 0, count: n * n)
        moments = [[Double]](repeating: [Double](repeating: 0, count: n), count: PlanetLabels.count)
    }

    mutating func add(_ x: [Double], truth: LabelSet) {
        let n = self.n
        gram.withUnsafeMutableBufferPointer { g in
            x.withUnsafeBufferPointer { x in
                for i in 0..<n where x[i] != 0 {
                    let xi = x[i], row = i * n
                    for j in i..<n { g[row + j] += xi * x[j] }
                }
            }
        }
        for label in truth.indices {
            for i in 0..<n { moments[label][i] += x[i] }
        }
    }

    mutating func merge(_ other: NormalEquations) {
        for i in gram.indices { gram[i] += other.gram[i] }
        for label in moments.indices { for i in 0..<n { moments[label][i] += other.moments[label][i] } }
    }

    /// The 17 weight vectors of (XᵀX + λD) w = Xᵀy, D = identity without the bias (the last feature).
    func solve(lambda: Double) -> [[Double]] {
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in i..<n { a[i * n + j] = gram[i * n + j]; a[j * n + i] = gram[i * n + j] }
            if i < n - 1 { a[i * n + i] += lambda }
        }
        let largest = (0..<n).map { a[$0 * n + $0] }.max() ?? 0
        var jitter = 0.0
        var factor = Cholesky(a, n: n)
        while factor == nil {
            jitter = jitter == 0 ? max(1e-10 * largest, 1e-12) : jitter * 10
            var shifted = a
            for i in 0..<n { shifted[i * n + i] += jitter }
            factor = Cholesky(shifted, n: n)
        }
        return moments.map { factor!.solve($0) }
    }
}

/// A = L Lᵀ for a symmetric positive definite A (row-major n×n); nil when A is not positive definite.
struct Cholesky {
    let n: Int
    var lower: [Double]

    init?(_ a: [Double], n: Int) {
        self.n = n
        lower = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var sum = a[i * n + j]
                for k in 0..<j { sum -= lower[i * n + k] * lower[j * n + k] }
                if i == j {
                    // A pivot lost to rounding (collinear features, λ = 0) counts as not positive definite.
                    guard sum > 1e-13 * abs(a[i * n + i]), sum.isFinite else { return nil }
                    lower[i * n + i] = sum.squareRoot()
                } else {
                    lower[i * n + j] = sum / lower[j * n + j]
                }
            }
        }
    }

    /// x with L Lᵀ x = b: forward then back substitution.
    func solve(_ b: [Double]) -> [Double] {
        var y = b
        for i in 0..<n {
            var sum = y[i]
            for k in 0..<i { sum -= lower[i * n + k] * y[k] }
            y[i] = sum / lower[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var sum = y[i]
            for k in (i + 1)..<n { sum -= lower[k * n + i] * y[k] }
            y[i] = sum / lower[i * n + i]
        }
        return y
    }
}
