import Evaluation
import Foundation
import PlanetData
import Tensor
import XCTest

/// Thresholds, the expected-F2 decision, the weather rule. Expected values worked out by hand below.
final class ThresholdTests: XCTestCase {
    static let clear = PlanetLabels.index(of: "clear")!, primary = PlanetLabels.index(of: "primary")!
    static let agriculture = PlanetLabels.index(of: "agriculture")!, water = PlanetLabels.index(of: "water")!

    /// A row of 17 probabilities, 0 except the given labels.
    static func row(_ values: [String: Float]) -> [Float] {
        var row = [Float](repeating: 0, count: PlanetLabels.count)
        for (name, value) in values { row[PlanetLabels.index(of: name)!] = value }
        return row
    }

    func testGlobalThresholdOnAHandWorkedCase() {
        // Six chips, two labels (c = clear, p = primary), every other probability 0.
        let truth: [LabelSet] = [["clear", "primary"], ["clear"], ["primary"], ["clear", "primary"], ["primary"], ["clear"]]
        let probabilities = [
            Self.row(["clear": 0.9, "primary": 0.3]), Self.row(["clear": 0.8, "primary": 0.25]),
            Self.row(["clear": 0.15, "primary": 0.7]), Self.row(["clear": 0.6, "primary": 0.12]),
            Self.row(["clear": 0.05, "primary": 0.95]), Self.row(["clear": 0.35, "primary": 0.5]),
        ]
        // For t in (0.05, 0.12] every c and p is on except chip 5's c (0.05):
        //   chips 1, 4: {c,p} = truth → 1; chip 5: {p} = truth → 1;
        //   chips 2, 3, 6: one extra tag, tp 1 fp 1 → 5/(5+1) = 5/6.
        //   mean = (3 + 3·5/6)/6 = 5.5/6 = 11/12.
        // Elsewhere it is lower: t ≤ 0.05 adds chip 5's c (5/6 there): 8/9; t in (0.12, 0.15] drops chip 4's p
        // (tp 1 fn 1: 5/9): 91/108; (0.15, 0.25] also drops chip 3's extra c: 47/54; (0.25, 0.3] also
        // drops chip 2's extra p: 97/108; higher thresholds lose more true tags. Every grid value
        // 0.06 ... 0.12 ties at 11/12; the tie goes to the one nearest 0.2: 0.12.
        let result = ThresholdSearch.global(probabilities: probabilities, truth: truth)
        XCTAssertEqual(result.threshold, 0.12)
        XCTAssertEqual(result.meanF2, 11.0 / 12, accuracy: 1e-12)
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: [Float](repeating: 0.12, count: 17)),
                       11.0 / 12, accuracy: 1e-12)
        // A grid that holds only part of the plateau: its value nearest 0.2 wins, on either side.
        XCTAssertEqual(ThresholdSearch.global(probabilities: probabilities, truth: truth, grid: [0.07, 0.1, 0.5]).threshold, 0.1)
        // No chips: the grid value nearest 0.2, score 0.
        let empty = ThresholdSearch.global(probabilities: [], truth: [])
        XCTAssertEqual(empty.threshold, 0.2)
        XCTAssertEqual(empty.meanF2, 0)
    }

    /// Six chips, all truly and surely (0.99) primary; A = agriculture, B = water; other labels at 0.
    static let tuningTruth: [LabelSet] = [["primary", "agriculture"], ["primary"], ["primary", "water"],
                                          ["primary", "agriculture", "water"], ["primary"], ["primary"]]
    static let tuningProbabilities: [[Float]] = [
        row(["primary": 0.99, "agriculture": 0.7, "water": 0.05]), row(["primary": 0.99, "agriculture": 0.5, "water": 0.05]),
        row(["primary": 0.99, "agriculture": 0.5, "water": 0.15]), row(["primary": 0.99, "agriculture": 0.7, "water": 0.15]),
        row(["primary": 0.99, "agriculture": 0.5, "water": 0.05]), row(["primary": 0.99, "agriculture": 0.15, "water": 0.15]),
    ]
    static let coarseGrid: [Float] = (1...9).map { Float($0) / 10 }

    func testPerLabelTuningFindsEachLabelsThreshold() {
        let start = [Float](repeating: 0.2, count: 17)
        // At 0.2 everywhere every chip gets P, chips 1-5 get A, nobody gets B:
        //   chip 1: 1; chips 2, 5: tp 1 fp 1 → 5/6; chip 3: tp 1 fp 1 fn 1 → 5/10; chip 4: tp 2 fn 1 → 10/14;
        //   chip 6: 1. Mean = (2 + 5/3 + 1/2 + 5/7)/6 = (205/42)/6 = 205/252 ≈ 0.8135.
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: Self.tuningProbabilities, truth: Self.tuningTruth, thresholds: start),
                       205.0 / 252, accuracy: 1e-12)
        // Agriculture first (label 0): in (0.5, 0.7] only chips 1 and 4 keep A: chips 2, 5 → 1, chip 3 → 5/9:
        //   mean = (4 + 5/9 + 5/7)/6 ≈ 0.8783 > 0.8135; 0.6 and 0.7 tie, 0.6 is nearer the current 0.2.
        // Then water (label 16): at 0.1 chips 3, 4, 6 get B: chips 3, 4 → 1, chip 6 → 5/6; all others 1:
        //   mean = (5 + 5/6)/6 = 35/36 ≈ 0.9722. A second pass changes nothing (agriculture's best given B
        //   stays 0.6/0.7, primary is on at every grid value, other labels have no positive).
        let tuned = ThresholdSearch.perLabel(probabilities: Self.tuningProbabilities, truth: Self.tuningTruth, start: start,
                                             grid: Self.coarseGrid, minimumSupport: 2)
        var expected = start
        expected[Self.agriculture] = 0.6
        expected[Self.water] = 0.1
        XCTAssertEqual(tuned, expected)
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: Self.tuningProbabilities, truth: Self.tuningTruth, thresholds: tuned),
                       35.0 / 36, accuracy: 1e-12)
    }

    func testPerLabelGuardsKeepTheStartThreshold() {
        let start = [Float](repeating: 0.2, count: 17)
        // Agriculture and water have 2 positives each: below a minimum support of 3, both keep 0.2.
        XCTAssertEqual(ThresholdSearch.perLabel(probabilities: Self.tuningProbabilities, truth: Self.tuningTruth, start: start,
                                                grid: Self.coarseGrid, minimumSupport: 3), start)
        // A gain of at least 0.2 is never on offer (agriculture's move gains 0.065; water's alone from the start:
        // chips 3 → 10/11, 4 → 1, 6 → 5/6, a gain of about 0.12), so nothing moves.
        XCTAssertEqual(ThresholdSearch.perLabel(probabilities: Self.tuningProbabilities, truth: Self.tuningTruth, start: start,
                                                grid: Self.coarseGrid, minimumSupport: 2, minimumGain: 0.2), start)
        // Zero passes: the start.
        XCTAssertEqual(ThresholdSearch.perLabel(probabilities: Self.tuningProbabilities, truth: Self.tuningTruth, start: start,
                                                grid: Self.coarseGrid, passes: 0, minimumSupport: 2), start)
    }

    func testPerLabelNeverLowersTheScoreOnRandomData() {
        var generator = SplitMix(seed: 7)
        let chips = 300
        var truth: [LabelSet] = [], probabilities: [[Float]] = []
        for _ in 0..<chips {
            var set = LabelSet()
            var row = [Float](repeating: 0, count: 17)
            for label in 0..<17 {
                let positive = generator.unit() < 0.3
                if positive { set.insert(label) }
                row[label] = Float(min(1, max(0, (positive ? 0.45 : 0.2) + 0.35 * (generator.unit() - 0.5))))
            }
            truth.append(set)
            probabilities.append(row)
        }
        let global = ThresholdSearch.global(probabilities: probabilities, truth: truth)
        let start = [Float](repeating: global.threshold, count: 17)
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: start), global.meanF2, accuracy: 1e-12)
        // Start: the global threshold; enough passes to converge.
        let tuned = ThresholdSearch.perLabel(probabilities: probabilities, truth: truth, passes: 50)
        let score = ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: tuned)
        XCTAssertNotEqual(tuned, start)
        XCTAssertGreaterThan(score, global.meanF2 + 1e-4)
        // Brute force: no single label's grid value improves the tuned thresholds by the minimum gain.
        for label in 0..<17 {
            for value in ThresholdSearch.defaultGrid {
                var other = tuned
                other[label] = value
                XCTAssertLessThan(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: other), score + 1e-4)
            }
        }
    }

    /// The fast global search against scoring every value of an uneven grid directly, with some
    /// probabilities exactly on grid values (on: p ≥ t).
    func testGlobalSearchMatchesDirectScoring() {
        var generator = SplitMix(seed: 23)
        let grid: [Float] = [0.7, 0.013, 0.3, 0.31, 0.05, 0.3001, 0.9]  // any order; searched sorted
        var truth: [LabelSet] = [], probabilities: [[Float]] = []
        for _ in 0..<200 {
            var set = LabelSet()
            var row = [Float](repeating: 0, count: 17)
            for label in 0..<17 {
                if generator.unit() < 0.25 { set.insert(label) }
                let draw = generator.unit()
                row[label] = draw < 0.1 ? grid[Int(draw * 70)] : Float(generator.unit() * (set.contains(label) ? 1 : 0.6))
            }
            truth.append(set)
            probabilities.append(row)
        }
        let scores = grid.map { ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: [Float](repeating: $0, count: 17)) }
        let best = scores.max()!
        // Ties: nearest 0.2, then lower.
        let expected = grid.indices.filter { scores[$0] == best }.map { grid[$0] }
            .min { (abs($0 - 0.2), $0) < (abs($1 - 0.2), $1) }!
        let result = ThresholdSearch.global(probabilities: probabilities, truth: truth, grid: grid)
        XCTAssertEqual(result.threshold, expected)
        XCTAssertEqual(result.meanF2, best)
    }

    // MARK: Expected F2

    func testExpectedF2ByHand() {
        // One label at p = 0.5: predicting it scores 1 with probability 0.5, else 0 (tp = 0).
        let half = Self.row(["water": 0.5])
        XCTAssertEqual(ExpectedF2.expectedF2(of: ["water"], probabilities: half), 0.5, accuracy: 1e-15)
        XCTAssertEqual(ExpectedF2.expectedF2(of: [], probabilities: half), 0)
        XCTAssertEqual(ExpectedF2.decide(half), ["water"])
        // primary at 1 and water at 0.1:
        //   {primary}:        0.9·1 + 0.1·5/(5+4) = 0.9 + 1/18 ≈ 0.9556
        //   {primary, water}: 0.9·5/(5+1) + 0.1·1 = 0.75 + 0.1 = 0.85 → choose {primary}.
        let low = Self.row(["primary": 1, "water": 0.1])
        XCTAssertEqual(ExpectedF2.expectedF2(of: ["primary"], probabilities: low), 0.9 + 0.1 * 5 / 9, accuracy: 1e-7)
        XCTAssertEqual(ExpectedF2.expectedF2(of: ["primary", "water"], probabilities: low), 0.85, accuracy: 1e-7)
        XCTAssertEqual(ExpectedF2.decide(low), ["primary"])
        // water at 0.3: {primary} 0.7 + 0.3·5/9 ≈ 0.8667 < {primary, water} 0.7·5/6 + 0.3 ≈ 0.8833.
        let higher = Self.row(["primary": 1, "water": 0.3])
        XCTAssertEqual(ExpectedF2.decide(higher), ["primary", "water"])
        // Nothing probable: every set scores 0 and the empty set wins the tie.
        XCTAssertEqual(ExpectedF2.decide([Float](repeating: 0, count: 17)), [])
    }

    /// The DP against enumeration of all 2⁶ outcomes, for all 2⁶ subsets of six labels (others at p = 0).
    func testExpectedF2MatchesBruteForce() {
        var generator = SplitMix(seed: 11)
        let labels = [0, 5, 8, 12, 13, 16]
        for trial in 0..<4 {
            var p = [Float](repeating: 0, count: 17)
            for label in labels { p[label] = trial == 3 ? [1, 0.5, 0.5, 0.02, 0, 0.9][labels.firstIndex(of: label)!] : Float(generator.unit()) }
            var bestBrute = 0.0
            for choice in 0..<64 {
                let predicted = LabelSet(indices: labels.indices.filter { choice & (1 << $0) != 0 }.map { labels[$0] })
                var brute = 0.0
                for outcome in 0..<64 {
                    var probability = 1.0
                    for (bit, label) in labels.enumerated() {
                        probability *= outcome & (1 << bit) != 0 ? Double(p[label]) : 1 - Double(p[label])
                    }
                    let truth = LabelSet(indices: labels.indices.filter { outcome & (1 << $0) != 0 }.map { labels[$0] })
                    brute += probability * Metrics.f2(truth: truth, predicted: predicted)
                }
                XCTAssertEqual(ExpectedF2.expectedF2(of: predicted, probabilities: p), brute, accuracy: 1e-12, "trial \(trial), set \(predicted)")
                bestBrute = max(bestBrute, brute)
            }
            let decided = ExpectedF2.decide(p)
            let value = ExpectedF2.expectedF2(of: decided, probabilities: p)
            XCTAssertGreaterThanOrEqual(value, bestBrute - 1e-12, "trial \(trial)")
            // A label at p = 0 only adds a false positive.
            XCTAssertLessThan(ExpectedF2.expectedF2(of: decided.union(["haze"]), probabilities: p), value + 1e-12)
        }
    }

    // MARK: Weather rule and decision methods

    func testWeatherRule() {
        // Two weather labels chosen: the more probable one (haze) stays, ground labels stay.
        XCTAssertEqual(WeatherRule.apply(["clear", "haze", "primary"], probabilities: Self.row(["clear": 0.6, "haze": 0.7, "primary": 0.9])),
                       ["haze", "primary"])
        // No weather chosen: the most probable is added.
        XCTAssertEqual(WeatherRule.apply(["primary"], probabilities: Self.row(["partly_cloudy": 0.3, "clear": 0.1, "primary": 0.9])),
                       ["partly_cloudy", "primary"])
        // Cloudy wins: every ground label goes.
        XCTAssertEqual(WeatherRule.apply(["primary", "water", "clear"], probabilities: Self.row(["cloudy": 0.8, "clear": 0.5, "primary": 0.6])),
                       ["cloudy"])
        // A tie goes to the first weather label in label order (clear before haze).
        XCTAssertEqual(WeatherRule.apply([], probabilities: Self.row(["clear": 0.5, "haze": 0.5])), ["clear"])
    }

    func testDecisionMethods() throws {
        let table = ProbabilityTable(names: ["a", "b"], rows: [Self.row(["clear": 0.9, "haze": 0.3, "primary": 0.25, "water": 0.1]),
                                                               Self.row(["cloudy": 0.6, "primary": 0.5])])
        XCTAssertEqual(DecisionMethod.global(0.2).decide(table, weatherRule: false), [["clear", "haze", "primary"], ["cloudy", "primary"]])
        XCTAssertEqual(DecisionMethod.global(0.2).decide(table, weatherRule: true), [["clear", "primary"], ["cloudy"]])
        var thresholds = [Float](repeating: 0.2, count: 17)
        thresholds[Self.water] = 0.05
        thresholds[Self.primary] = 0.3
        XCTAssertEqual(DecisionMethod.perLabel(thresholds).decide(table, weatherRule: false), [["clear", "haze", "water"], ["cloudy", "primary"]])
        XCTAssertEqual(DecisionMethod.expectedF2.decide(table, weatherRule: false), table.rows.map(ExpectedF2.decide))

        for method in [DecisionMethod.global(0.2), .perLabel(thresholds), .expectedF2] {
            let json = try JSONEncoder().encode(method)
            XCTAssertEqual(try JSONDecoder().decode(DecisionMethod.self, from: json), method)
        }
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(DecisionMethod.expectedF2), as: UTF8.self), #"{"method":"expected_f2"}"#)
        XCTAssertThrowsError(try JSONDecoder().decode(DecisionMethod.self, from: Data(#"{"method":"bayes"}"#.utf8)))
        XCTAssertThrowsError(try JSONDecoder().decode(DecisionMethod.self, from: Data(#"{"method":"per_label","thresholds":[0.2]}"#.utf8)))
    }
}

/// Test data from Tensor's SplitMix64, with uniform draws in Double.
struct SplitMix {
    private var random: SeededRandom
    init(seed: UInt64) { random = SeededRandom(seed: seed) }
    mutating func next() -> UInt64 { random.next() }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
