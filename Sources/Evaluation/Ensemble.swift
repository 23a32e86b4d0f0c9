import PlanetData

/// Combining several models' probability tables over the same chips: out-of-fold tables to fit on,
/// test tables to apply to. Tables must list the same chips in the same order (see
/// `ProbabilityTable.subset(names:)`); every misalignment is a `DataError`.
public enum Ensemble {
    /// The plain mean of the tables.
    public static func mean(_ tables: [ProbabilityTable]) throws(DataError) -> ProbabilityTable {
        try ProbabilityTable.mean(of: tables)
    }

    /// Σ wᵢ·tableᵢ / Σ wᵢ: weights ≥ 0, normalised to sum 1.
    public static func weightedMean(_ tables: [ProbabilityTable], weights: [Float]) throws(DataError) -> ProbabilityTable {
        try ProbabilityTable.weightedMean(of: tables, weights: weights)
    }

    /// Weights on the simplex that maximise the out-of-fold mean F2 at the best global threshold
    /// (`ThresholdSearch.global` on `grid`).
    ///
    /// Coordinate search: start from equal weights; a move takes `step` (0.05) of weight from one model
    /// to another (all of it when it has less than a step left, so a model can reach exactly 0); every
    /// ordered pair is tried in turn and a move is kept when it raises mean F2 by more than 1e-9. Sweeps
    /// repeat until one keeps no move (at most `maximumSweeps`). Weights stay ≥ 0 and sum to 1; ties
    /// keep the weights already held, so from equal weights the search moves only for a real gain.
    /// Each evaluation is O(chips · 17 · (models + sort + grid lookup) + grid).
    public static func fitWeights(oof: [ProbabilityTable], truth: [LabelSet], step: Double = 0.05,
                                  grid: [Float] = ThresholdSearch.defaultGrid, maximumSweeps: Int = 100) throws(DataError) -> [Float] {
        try ProbabilityTable.checkAligned(oof, context: "out-of-fold tables")
        try checkTruth(truth, chips: oof[0].count)
        precondition(step > 0 && step <= 1, "weight step \(step)")
        let models = oof.count, chips = oof[0].count, labels = PlanetLabels.count
        guard models > 1 else { return [1] }
        // Models' probabilities, flat, chip-major.
        let flat: [[Float]] = oof.map { table in table.rows.flatMap { $0 } }
        let index = GridIndex(grid)
        var mixed = [Float](repeating: 0, count: chips * labels)
        func score(_ weights: [Double]) -> Double {
            for i in mixed.indices { mixed[i] = 0 }
            for m in 0..<models where weights[m] > 0 {
                let w = Float(weights[m])
                flat[m].withUnsafeBufferPointer { source in
                    for i in 0..<mixed.count { mixed[i] += w * source[i] }
                }
            }
            let totals = mixed.withUnsafeBufferPointer { values in
                ThresholdSearch.globalTotals(chips: chips, truth: truth, grid: index) { values[$0 * labels + $1] }
            }
            return Double(totals.max() ?? 0) / ThresholdSearch.fixedOne / Double(max(1, chips))
        }
        var weights = [Double](repeating: 1 / Double(models), count: models)
        var best = score(weights)
        for _ in 0..<maximumSweeps {
            var moved = false
            for from in 0..<models {
                for to in 0..<models where to != from && weights[from] > 0 {
                    var candidate = weights
                    let amount = min(step, candidate[from])
                    candidate[from] -= amount
                    candidate[to] += amount
                    if candidate[from] < 1e-9 { candidate[to] += candidate[from]; candidate[from] = 0 }
                    let value = score(candidate)
                    if value > best + 1e-9 { weights = candidate; best = value; moved = true }
                }
            }
            if !moved { break }
        }
        let total = weights.reduce(0, +)
        return weights.map { Float($0 / total) }
    }

    /// The vote as a probability: model m says "on" for label l when its probability ≥ thresholds[m][l],
    /// and the fraction of models saying "on" is the label's probability. Thresholding it at 0.5
    /// (p ≥ 0.5) is a majority vote with an exact tie on (recall weighs four times precision in F2);
    /// other thresholds give other quorums.
    public static func voteFractions(_ tables: [ProbabilityTable], thresholds: [[Float]]) throws(DataError) -> ProbabilityTable {
        let votes = try voteCounts(tables, thresholds: thresholds)
        let models = Float(tables.count)
        return ProbabilityTable(names: tables[0].names, rows: votes.map { row in row.map { Float($0) / models } })
    }

    static func voteCounts(_ tables: [ProbabilityTable], thresholds: [[Float]]) throws(DataError) -> [[Int32]] {
        try ProbabilityTable.checkAligned(tables, context: "vote")
        guard thresholds.count == tables.count else {
            throw DataError(file: "vote", problem: "\(thresholds.count) threshold rows for \(tables.count) models")
        }
        if let bad = thresholds.firstIndex(where: { $0.count != PlanetLabels.count }) {
            throw DataError(file: "vote", problem: "model \(bad + 1) has \(thresholds[bad].count) thresholds, expected \(PlanetLabels.count)")
        }
        var votes = [[Int32]](repeating: [Int32](repeating: 0, count: PlanetLabels.count), count: tables[0].count)
        for (m, table) in tables.enumerated() {
            for (chip, row) in table.rows.enumerated() {
                for label in 0..<PlanetLabels.count where row[label] >= thresholds[m][label] { votes[chip][label] += 1 }
            }
        }
        return votes
    }

    static func checkTruth(_ truth: [LabelSet], chips: Int) throws(DataError) {
        guard truth.count == chips else {
            throw DataError(file: "out-of-fold tables", problem: "\(chips) rows but \(truth.count) true label sets")
        }
    }
}

/// The ensembles a pipeline can ask for by name.
public enum EnsembleMethod: String, Codable, CaseIterable, Sendable {
    case mean
    case weightedMean = "weighted_mean"
    case vote
    case ridge

    /// What `combine` produced, with what it fitted (for the run's records).
    public struct Output: Sendable {
        /// Ensemble probabilities on the out-of-fold chips: what thresholds are tuned on and what the
        /// reported out-of-fold F2 comes from.
        public var oof: ProbabilityTable
        /// Ensemble probabilities on the test chips.
        public var test: ProbabilityTable
        /// `weightedMean`: the fitted weights, one per model.
        public var weights: [Float]?
        /// `vote`: each model's threshold (its best global threshold on its own out-of-fold table).
        public var voteThresholds: [Float]?
        /// `ridge`: the stacker fitted on all out-of-fold chips (the one applied to the test chips).
        public var stacker: RidgeStacker?
    }

    /// Combines `oof` (fitted on, with `truth` and `folds` in its row order) and `test` (applied to;
    /// the same models in the same order).
    ///
    /// - mean: both tables are plain means.
    /// - weightedMean: weights from `Ensemble.fitWeights` on all out-of-fold chips. The out-of-fold
    ///   table reuses those weights, so its F2 is slightly optimistic (models − 1 free parameters on a
    ///   0.05 grid).
    /// - vote: each model votes at its best global threshold; the probability is the fraction of votes.
    /// - ridge: the test table comes from a stacker fitted on all out-of-fold chips; the out-of-fold
    ///   table from `RidgeStacker.outOfFold` (each fold predicted by a stacker that never saw it).
    public func combine(oof: [ProbabilityTable], truth: [LabelSet], folds: [Int], test: [ProbabilityTable],
                        lambda: Double = RidgeStacker.defaultLambda) throws(DataError) -> Output {
        try ProbabilityTable.checkAligned(oof, context: "out-of-fold tables")
        try ProbabilityTable.checkAligned(test, context: "test tables")
        guard oof.count == test.count else {
            throw DataError(file: "ensemble", problem: "\(oof.count) out-of-fold tables but \(test.count) test tables")
        }
        try Ensemble.checkTruth(truth, chips: oof[0].count)
        var weights: [Float]?, voteThresholds: [Float]?, stacker: RidgeStacker?
        switch self {
        case .mean: break
        case .weightedMean: weights = try Ensemble.fitWeights(oof: oof, truth: truth)
        case .vote: voteThresholds = oof.map { ThresholdSearch.global(probabilities: $0.rows, truth: truth).threshold }
        case .ridge: stacker = try RidgeStacker.fit(oof: oof, truth: truth, lambda: lambda)
        }
        // Ridge's out-of-fold table comes from stackers that never saw each fold; the others apply
        // their fit to the out-of-fold tables as to the test tables.
        let combinedOOF = self == .ridge
            ? try RidgeStacker.outOfFold(oof: oof, truth: truth, folds: folds, lambda: lambda)
            : try apply(oof, weights: weights, voteThresholds: voteThresholds, stacker: stacker)
        return Output(oof: combinedOOF, test: try apply(test, weights: weights, voteThresholds: voteThresholds, stacker: stacker),
                      weights: weights, voteThresholds: voteThresholds, stacker: stacker)
    }

    /// New tables of the same models combined with what `combine` fitted (the test tables, or a
    /// folder of new chips: `canopy predict --images`). The fitted piece the method needs must be given.
    public func apply(_ tables: [ProbabilityTable], weights: [Float]?, voteThresholds: [Float]?,
                      stacker: RidgeStacker?) throws(DataError) -> ProbabilityTable {
        func missing(_ what: String) -> DataError { DataError(file: "ensemble", problem: "\(rawValue) without its \(what)") }
        switch self {
        case .mean: return try Ensemble.mean(tables)
        case .weightedMean:
            guard let weights else { throw missing("weights") }
            return try Ensemble.weightedMean(tables, weights: weights)
        case .vote:
            guard let voteThresholds else { throw missing("vote thresholds") }
            return try Ensemble.voteFractions(tables, thresholds: Self.perModel(voteThresholds))
        case .ridge:
            guard let stacker else { throw missing("stacker") }
            return try stacker.apply(tables)
        }
    }

    /// Each model's one threshold, for all 17 labels.
    private static func perModel(_ thresholds: [Float]) -> [[Float]] {
        thresholds.map { [Float](repeating: $0, count: PlanetLabels.count) }
    }
}
