import Evaluation
import PlanetData
import XCTest

/// Values worked out by hand (and the same as sklearn's fbeta_score(beta=2, average='samples')).
final class MetricsTests: XCTestCase {
    func testF2OfSingleChips() {
        // truth {clear, primary}, predicted {clear}: p = 1, r = 1/2, F2 = 5·1·0.5/(4·1 + 0.5) = 2.5/4.5.
        XCTAssertEqual(Metrics.f2(truth: ["clear", "primary"], predicted: ["clear"]), 2.5 / 4.5, accuracy: 1e-12)
        // truth {clear}, predicted {clear, primary, water}: p = 1/3, r = 1, F2 = 5·(1/3)/(4/3 + 1) = 5/7.
        XCTAssertEqual(Metrics.f2(truth: ["clear"], predicted: ["clear", "primary", "water"]), 5.0 / 7, accuracy: 1e-12)
        XCTAssertEqual(Metrics.f2(truth: ["haze"], predicted: ["haze"]), 1)
        // No true tag, or no predicted tag, or nothing in common: tp = 0, F2 = 0 (sklearn's zero_division=0).
        XCTAssertEqual(Metrics.f2(truth: [], predicted: ["clear"]), 0)
        XCTAssertEqual(Metrics.f2(truth: ["clear"], predicted: []), 0)
        XCTAssertEqual(Metrics.f2(truth: [], predicted: []), 0)
        XCTAssertEqual(Metrics.f2(truth: ["clear"], predicted: ["haze"]), 0)
    }

    func testMeanF2AveragesOverChips() {
        let truth: [LabelSet] = [["clear", "primary"], ["clear"], [], ["haze", "primary", "water"]]
        let predicted: [LabelSet] = [["clear"], ["clear", "primary", "water"], ["clear"], ["haze", "primary"]]
        // Chip 4: p = 1, r = 2/3: F2 = 5·(2/3)/(4 + 2/3) = (10/3)/(14/3) = 10/14.
        let expected = (2.5 / 4.5 + 5.0 / 7 + 0 + 10.0 / 14) / 4
        XCTAssertEqual(Metrics.meanF2(truth: truth, predicted: predicted), expected, accuracy: 1e-12)
        // Micro: tp = 1+1+0+2 = 4, fp = 0+2+1+0 = 3, fn = 1+0+0+1 = 2: 5·4/(5·4 + 4·2 + 3) = 20/31.
        XCTAssertEqual(Metrics.microF2(truth: truth, predicted: predicted), 20.0 / 31, accuracy: 1e-12)
    }

    func testPerLabelCountsAndAveragePrecision() {
        let truth: [LabelSet] = [["clear", "primary"], ["clear"], ["haze"], ["haze", "primary"]]
        let predicted: [LabelSet] = [["clear", "primary"], ["primary"], ["haze"], ["clear"]]
        let labels = Metrics.perLabel(truth: truth, predicted: predicted)
        let clear = labels[PlanetLabels.index(of: "clear")!]
        XCTAssertEqual([clear.truePositives, clear.falsePositives, clear.falseNegatives, clear.trueNegatives], [1, 1, 1, 1])
        XCTAssertEqual(clear.precision, 0.5)
        XCTAssertEqual(clear.recall, 0.5)
        XCTAssertEqual(clear.support, 2)
        XCTAssertEqual(clear.f2, 0.5, accuracy: 1e-12)
        let water = labels[PlanetLabels.index(of: "water")!]
        XCTAssertEqual([water.support, water.trueNegatives], [0, 4])
        XCTAssertEqual(water.f2, 0)

        // Scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg): AP = 0.5·1 + 0.5·(2/3) = 5/6 (sklearn agrees).
        XCTAssertEqual(Metrics.averagePrecision(scores: [0.9, 0.8, 0.7, 0.1], positives: [true, false, true, false]), 5.0 / 6, accuracy: 1e-12)
        // Ties count as one threshold: both at 0.5, one positive: AP = 1·0.5.
        XCTAssertEqual(Metrics.averagePrecision(scores: [0.5, 0.5], positives: [true, false]), 0.5, accuracy: 1e-12)
        XCTAssertTrue(Metrics.averagePrecision(scores: [0.5], positives: [false]).isNaN)
        let curve = Metrics.precisionRecallCurve(scores: [0.9, 0.8, 0.7, 0.1], positives: [true, false, true, false])
        XCTAssertEqual(curve.map(\.recall), [0.5, 0.5, 1, 1])
        XCTAssertEqual(curve.map(\.precision), [1, 0.5, 2.0 / 3, 0.5])
    }

    func testDecideUsesGreaterOrEqual() {
        var probabilities = [Float](repeating: 0.1, count: 17)
        probabilities[5] = 0.2
        probabilities[12] = 0.9
        XCTAssertEqual(Metrics.decide(probabilities, thresholds: [Float](repeating: 0.2, count: 17)), ["clear", "primary"])
    }
}
