import Evaluation
import PlanetData
import XCTest

final class EnsembleTests: XCTestCase {
    static let water = PlanetLabels.index(of: "water")!, primary = PlanetLabels.index(of: "primary")!

    static func constant(_ value: Float, names: [String]) -> ProbabilityTable {
        ProbabilityTable(names: names, rows: names.map { _ in [Float](repeating: value, count: 17) })
    }

    func testMeanAndWeightedMeanByHand() throws {
        let a = Self.constant(0.25, names: ["x", "y"]), b = Self.constant(0.75, names: ["x", "y"])
        // (0.25 + 0.75)/2 = 0.5; weights 3 : 1 → (3·0.25 + 1·0.75)/4 = 1.5/4 = 0.375.
        XCTAssertEqual(try Ensemble.mean([a, b]), Self.constant(0.5, names: ["x", "y"]))
        XCTAssertEqual(try Ensemble.weightedMean([a, b], weights: [3, 1]), Self.constant(0.375, names: ["x", "y"]))
        // Weight 0 drops a table; the mean of one table is itself.
        XCTAssertEqual(try Ensemble.weightedMean([a, b], weights: [0, 2]), b)
        XCTAssertEqual(try Ensemble.mean([a]), a)

        XCTAssertThrowsError(try Ensemble.mean([a, Self.constant(0.75, names: ["x", "z"])])) { error in
            XCTAssertEqual("\(error)", #"ensemble: row 2 is "z" in table 2 but "y" in table 1 (align the tables with subset(names:))"#)
        }
        XCTAssertThrowsError(try Ensemble.mean([a, Self.constant(0.75, names: ["x"])])) { error in
            XCTAssertEqual("\(error)", "ensemble: table 2 has 1 rows, table 1 has 2")
        }
        XCTAssertThrowsError(try Ensemble.weightedMean([a, b], weights: [0, 0]))
        XCTAssertThrowsError(try Ensemble.mean([]))
    }

    func testMajorityVoteWithTies() throws {
        let names = ["x"]
        // Water at 0.6, 0.4, 0.3, 0.1 in four models, each thresholding at 0.35 → votes on, on, off, off.
        let tables = [0.6, 0.4, 0.3, 0.1].map { (value: Float) in
            ProbabilityTable(names: names, rows: [ThresholdTests.row(["water": value, "primary": 0.9])])
        }
        let thresholds = [[Float]](repeating: [Float](repeating: 0.35, count: 17), count: 4)
        // Fractions 2/4 and 4/4; thresholding them at 0.5 is the majority vote. 2 of 4 is a tie: on.
        // Primary: 4 of 4: on. Everything else 0 of 4: off.
        let fractions = try Ensemble.voteFractions(tables, thresholds: thresholds)
        XCTAssertEqual(fractions.rows[0][Self.water], 0.5)
        XCTAssertEqual(fractions.rows[0][Self.primary], 1)
        XCTAssertEqual(fractions.rows[0][0], 0)
        XCTAssertEqual(DecisionMethod.global(0.5).decide(fractions, weatherRule: false), [["primary", "water"]])
        // 1 of 3 (drop the second model) is no majority: off.
        let three = try Ensemble.voteFractions([tables[0], tables[2], tables[3]], thresholds: Array(thresholds.prefix(3)))
        XCTAssertEqual(DecisionMethod.global(0.5).decide(three, weatherRule: false), [["primary"]])
        // Per-model thresholds: model 4 with water at 0.05 votes on too → 3 of 4.
        var perModel = thresholds
        perModel[3][Self.water] = 0.05
        XCTAssertEqual(try Ensemble.voteFractions(tables, thresholds: perModel).rows[0][Self.water], 0.75)
        XCTAssertThrowsError(try Ensemble.voteFractions(tables, thresholds: Array(thresholds.prefix(2)))) { error in
            XCTAssertEqual("\(error)", "vote: 2 threshold rows for 4 models")
        }
    }

    /// One model whose water probability is exactly the 0/1 truth, other features noise.
    static func linearCase(chips: Int, seed: UInt64, flippedFold: Int? = nil, folds: Int = 3) -> (tables: [ProbabilityTable], truth: [LabelSet], folds: [Int]) {
        var generator = SplitMix(seed: seed)
        var rows: [[Float]] = [], truth: [LabelSet] = [], foldOf: [Int] = []
        for chip in 0..<chips {
            var row = (0..<17).map { _ in Float(generator.unit()) }
            let fold = chip % folds
            let water = chip % 2 == 0 || generator.unit() < 0.3
            row[Self.water] = water ? 1 : 0
            var set: LabelSet = ["primary"]
            // The target: water where the feature says so, except in the flipped fold, where it is the opposite.
            if water != (fold == flippedFold) { set.insert(Self.water) }
            rows.append(row)
            truth.append(set)
            foldOf.append(fold)
        }
        return ([ProbabilityTable(names: (0..<chips).map { "c\($0)" }, rows: rows)], truth, foldOf)
    }

    func testRidgeRecoversALinearRelation() throws {
        let data = Self.linearCase(chips: 90, seed: 3)
        let stacker = try RidgeStacker.fit(oof: data.tables, truth: data.truth, lambda: 1e-6)
        XCTAssertEqual(stacker.models, 1)
        // Water's weights: 1 on the water feature, 0 on the 16 noise features and on the bias.
        let w = stacker.weights[Self.water]
        XCTAssertEqual(w.count, 18)
        for (index, weight) in w.enumerated() { XCTAssertEqual(weight, index == Self.water ? 1 : 0, accuracy: 1e-4, "feature \(index)") }
        // Primary is always 1: all on the (unshrunk) bias. Agriculture is never on: all zero.
        XCTAssertEqual(stacker.weights[Self.primary][17], 1, accuracy: 1e-4)
        XCTAssertEqual(stacker.weights[0].map(abs).max()!, 0, accuracy: 1e-9)
        // Applied to new chips: water follows the feature, clipped to [0, 1].
        let fresh = Self.linearCase(chips: 10, seed: 99)
        let stacked = try stacker.apply(fresh.tables)
        for (chip, row) in stacked.rows.enumerated() {
            XCTAssertEqual(row[Self.water], fresh.tables[0].rows[chip][Self.water], accuracy: 1e-3)
            XCTAssertTrue(row.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        XCTAssertThrowsError(try stacker.apply(fresh.tables + fresh.tables)) { error in
            XCTAssertEqual("\(error)", "stacking: 2 tables, the stacker was fitted on 1 models")
        }
        // A larger λ shrinks the water weight below 1.
        XCTAssertLessThan(try RidgeStacker.fit(oof: data.tables, truth: data.truth, lambda: 10).weights[Self.water][Self.water], 0.95)
    }

    func testRidgeOutOfFoldNeverSeesTheChipsOwnFold() throws {
        // Folds 0 and 1: water = feature; fold 2: water = 1 − feature.
        let data = Self.linearCase(chips: 90, seed: 5, flippedFold: 2)
        let oof = try RidgeStacker.outOfFold(oof: data.tables, truth: data.truth, folds: data.folds, lambda: 1e-6)
        XCTAssertEqual(oof.names, data.tables[0].names)
        for chip in data.folds.indices where data.folds[chip] == 2 {
            // Fitted on folds 0 and 1 only: it predicts the feature, so it misses fold 2's flipped truth by ~1.
            let feature = data.tables[0].rows[chip][Self.water], predicted = oof.rows[chip][Self.water]
            XCTAssertEqual(predicted, feature, accuracy: 1e-3)
            XCTAssertGreaterThan(abs(predicted - (data.truth[chip].contains(Self.water) ? 1 : 0)), 0.99)
        }
        // A stacker fitted on everything has seen fold 2 and is pulled towards it (water weight well below 1).
        let all = try RidgeStacker.fit(oof: data.tables, truth: data.truth, lambda: 1e-6)
        XCTAssertLessThan(all.weights[Self.water][Self.water], 0.7)
        XCTAssertThrowsError(try RidgeStacker.outOfFold(oof: data.tables, truth: data.truth, folds: data.folds.map { _ in 0 })) { error in
            XCTAssertEqual("\(error)", "out-of-fold tables: stacking out of fold needs at least 2 folds, got 1")
        }
    }

    /// Water on a third of the chips. Model "good" is informative (positives uniform in [0.3, 1],
    /// negatives in [0, 0.7]); model "bad" is noise (uniform in [0, 1] whatever the truth).
    static func goodAndBad(chips: Int, seed: UInt64) -> (good: ProbabilityTable, bad: ProbabilityTable, truth: [LabelSet]) {
        var generator = SplitMix(seed: seed)
        var good: [[Float]] = [], bad: [[Float]] = [], truth: [LabelSet] = []
        for chip in 0..<chips {
            let water = chip % 3 == 0
            good.append(ThresholdTests.row(["primary": 0.95, "water": Float((water ? 0.3 : 0) + 0.7 * generator.unit())]))
            bad.append(ThresholdTests.row(["primary": 0.95, "water": Float(generator.unit())]))
            truth.append(water ? ["primary", "water"] : ["primary"])
        }
        let names = (0..<chips).map { "c\($0)" }
        return (ProbabilityTable(names: names, rows: good), ProbabilityTable(names: names, rows: bad), truth)
    }

    func testFitWeightsFavoursTheBetterModel() throws {
        let data = Self.goodAndBad(chips: 300, seed: 17)
        let weights = try Ensemble.fitWeights(oof: [data.bad, data.good], truth: data.truth)
        XCTAssertEqual(weights.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertGreaterThan(weights[1], 0.6, "\(weights)")
        // The fitted blend scores at least as well as equal weights and as either model alone on its 0.05 grid.
        func score(_ w: [Float]) throws -> Double {
            let mixed = try Ensemble.weightedMean([data.bad, data.good], weights: w)
            return ThresholdSearch.global(probabilities: mixed.rows, truth: data.truth).meanF2
        }
        let fitted = try score(weights)
        XCTAssertGreaterThanOrEqual(fitted, try score([0.5, 0.5]))
        XCTAssertGreaterThanOrEqual(fitted, try score([1, 0]))
        XCTAssertEqual(try Ensemble.fitWeights(oof: [data.good], truth: data.truth), [1])
        XCTAssertThrowsError(try Ensemble.fitWeights(oof: [data.good], truth: Array(data.truth.prefix(3)))) { error in
            XCTAssertEqual("\(error)", "out-of-fold tables: 300 rows but 3 true label sets")
        }
    }

    func testEnsembleMethodEntryPoint() throws {
        let data = Self.goodAndBad(chips: 300, seed: 17)
        let folds = (0..<300).map { $0 % 5 }
        let oof = [data.bad, data.good], test = [data.bad, data.good]
        XCTAssertEqual(EnsembleMethod.allCases.map(\.rawValue), ["mean", "weighted_mean", "vote", "ridge"])
        for method in EnsembleMethod.allCases {
            let output = try method.combine(oof: oof, truth: data.truth, folds: folds, test: test)
            XCTAssertEqual(output.oof.names, data.good.names, "\(method)")
            XCTAssertEqual(output.test.count, 300, "\(method)")
            switch method {
            case .mean: XCTAssertEqual(output.test, try Ensemble.mean(test))
            case .weightedMean: XCTAssertGreaterThan(output.weights![1], output.weights![0])
            case .vote: XCTAssertEqual(output.voteThresholds?.count, 2)
            case .ridge:
                XCTAssertEqual(output.oof, try RidgeStacker.outOfFold(oof: oof, truth: data.truth, folds: folds))
                XCTAssertEqual(output.test, try output.stacker!.apply(test))
                // Stacking leans on the informative model's water.
                XCTAssertGreaterThan(output.stacker!.weights[Self.water][17 + Self.water], 5 * abs(output.stacker!.weights[Self.water][Self.water]))
            }
        }
        XCTAssertThrowsError(try EnsembleMethod.mean.combine(oof: oof, truth: data.truth, folds: folds, test: [data.good])) { error in
            XCTAssertEqual("\(error)", "ensemble: 2 out-of-fold tables but 1 test tables")
        }
    }
}
