import Evaluation
import PlanetData
import XCTest

/// `ThresholdSearch.shrink`: t' = g + (t − g)·n/(n + K). Expected values worked out by hand below.
final class ThresholdShrinkageTests: XCTestCase {
    static let clear = PlanetLabels.index(of: "clear")!, water = PlanetLabels.index(of: "water")!
    static let agriculture = PlanetLabels.index(of: "agriculture")!, haze = PlanetLabels.index(of: "haze")!
    static let primary = PlanetLabels.index(of: "primary")!

    func testShrinkOnHandComputedValues() {
        var thresholds = [Float](repeating: 0.2, count: 17), support = [Int](repeating: 0, count: 17)
        thresholds[Self.agriculture] = 0.6; support[Self.agriculture] = 5     // 0.2 + 0.4·5/25 = 0.28
        thresholds[Self.primary] = 0.35; support[Self.primary] = 2000         // 0.2 + 0.15·2000/2020 ≈ 0.348515
        thresholds[Self.water] = 0.1; support[Self.water] = 20                // 0.2 − 0.1·20/40 = 0.15
        thresholds[Self.haze] = 0.9; support[Self.haze] = 0                   // no positive: all the way to g
        support[Self.clear] = 700                                             // at g already: stays
        let shrunk = ThresholdSearch.shrink(thresholds, toward: 0.2, support: support, strength: 20)
        XCTAssertEqual(shrunk[Self.agriculture], 0.28, accuracy: 1e-6)
        XCTAssertEqual(shrunk[Self.primary], 0.2 + 0.15 * 2000 / 2020, accuracy: 1e-6)
        XCTAssertEqual(shrunk[Self.primary], 0.348515, accuracy: 1e-6)
        XCTAssertLessThan(abs(shrunk[Self.primary] - 0.35), 0.0015, "a label with large support barely moves")
        XCTAssertEqual(shrunk[Self.water], 0.15, accuracy: 1e-6)
        XCTAssertEqual(shrunk[Self.haze], 0.2)
        XCTAssertEqual(shrunk[Self.clear], 0.2)
        for label in 0..<17 where ![Self.agriculture, Self.primary, Self.water].contains(label) {
            XCTAssertEqual(shrunk[label], 0.2, PlanetLabels.names[label])
        }
        // K = 1: the 5-positive label keeps 5/6 of its move, 0.2 + 0.4·5/6 = 0.5333.
        XCTAssertEqual(ThresholdSearch.shrink(thresholds, toward: 0.2, support: support, strength: 1)[Self.agriculture], 0.2 + 0.4 * 5 / 6,
                       accuracy: 1e-6)
        // K = 10 000 (the largest allowed): even 2000 positives keep only 1/6 of the move: 0.2 + 0.15/6 = 0.225.
        XCTAssertEqual(ThresholdSearch.shrink(thresholds, toward: 0.2, support: support, strength: 10_000)[Self.primary], 0.225, accuracy: 1e-6)
    }

    func testZeroShrinkageReturnsTheThresholdsBitForBit() {
        let thresholds: [Float] = (0..<17).map { Float($0) * 0.0537 + 0.013 }
        let support = (0..<17).map { $0 * 3 }  // label 0 has no positive: 0/(0 + 0) is not computed
        XCTAssertEqual(ThresholdSearch.shrink(thresholds, toward: 0.17, support: support, strength: 0), thresholds)
    }

    /// The six-chip table of `ThresholdTests` (agriculture and water 2 positives each, primary 6).
    func testShrinkingTheTunedThresholdsOfAFixedTable() {
        let truth = ThresholdTests.tuningTruth, probabilities = ThresholdTests.tuningProbabilities
        XCTAssertEqual(ThresholdSearch.support(truth)[Self.agriculture], 2)
        XCTAssertEqual(ThresholdSearch.support(truth)[Self.water], 2)
        XCTAssertEqual(ThresholdSearch.support(truth)[Self.primary], 6)
        XCTAssertEqual(ThresholdSearch.support(truth)[Self.clear], 0)
        let start = [Float](repeating: 0.2, count: 17)
        let tuned = ThresholdSearch.perLabel(probabilities: probabilities, truth: truth, start: start, grid: ThresholdTests.coarseGrid, minimumSupport: 2)
        // Tuned (ThresholdTests): agriculture 0.6, water 0.1, mean F2 35/36. K = 1: each keeps 2/3 of its move:
        // agriculture 0.2 + 0.4·2/3 ≈ 0.4667 (on for chips 1-5, as at 0.2), water 0.2 − 0.1·2/3 ≈ 0.1333 (on for
        // chips 3, 4, 6, as at 0.1). Chips: 1 → 1, 2 → 5/6, 3 (tp 2 fp 1) → 10/11, 4 → 1, 5 → 5/6, 6 (tp 1 fp 1) → 5/6:
        // mean (9/2 + 10/11)/6 = 119/132 ≈ 0.9015, between the start's 205/252 and the tuned 35/36.
        let shrunk = ThresholdSearch.shrink(tuned, toward: 0.2, support: ThresholdSearch.support(truth), strength: 1)
        XCTAssertEqual(shrunk[Self.agriculture], 0.2 + 0.4 * 2 / 3, accuracy: 1e-6)
        XCTAssertEqual(shrunk[Self.water], 0.2 - 0.1 * 2 / 3, accuracy: 1e-6)
        XCTAssertEqual(shrunk[Self.primary], 0.2)  // 6 positives, but never moved from g
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: shrunk), 119.0 / 132, accuracy: 1e-12)
        // K = 6: each keeps a quarter: agriculture 0.3 (chips 1-5 on), water 0.175 (no chip on): the start's decisions, 205/252.
        let strong = ThresholdSearch.shrink(tuned, toward: 0.2, support: ThresholdSearch.support(truth), strength: 6)
        XCTAssertEqual(strong[Self.agriculture], 0.3, accuracy: 1e-6)
        XCTAssertEqual(strong[Self.water], 0.175, accuracy: 1e-6)
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: strong), 205.0 / 252, accuracy: 1e-12)
    }
}
