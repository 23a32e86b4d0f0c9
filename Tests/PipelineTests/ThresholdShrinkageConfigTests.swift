import Evaluation
import Foundation
@testable import Pipeline
import PlanetData
import XCTest

/// `thresholds.shrinkage`: read and checked like its neighbours, off by default without changing the
/// tune stage's key, and applied to the `per_label` rule `tune` scores.
final class ThresholdShrinkageConfigTests: XCTestCase, PipelineTextParsing {
    let minimal = "data: {root: x}\nmodels: [{backbone: lenet5}]\n"

    func testShrinkageIsReadAndChecked() throws {
        XCTAssertEqual(try parse(minimal).thresholds.shrinkage, 0)
        XCTAssertEqual(try parse(minimal + "thresholds: {shrinkage: 20}\n").thresholds.shrinkage, 20)
        XCTAssertEqual(try parse(minimal + "thresholds: {shrinkage: 10000, minimum_support: 0}\n").thresholds.shrinkage, 10_000)
        XCTAssertEqual(error(minimal + "thresholds: {shrinkage: -1}\n"), "p.yaml:3: thresholds.shrinkage: -1 is out of range 0...10000")
        XCTAssertEqual(error(minimal + "thresholds: {shrinkage: 10001}\n"), "p.yaml:3: thresholds.shrinkage: 10001 is out of range 0...10000")
        XCTAssertEqual(error(minimal + "thresholds: {shrinkage: 2.5}\n"), "p.yaml:3: thresholds.shrinkage: expected a whole number, got \"2.5\"")
        XCTAssertTrue(error(minimal + "thresholds: {shrinkge: 5}\n").hasPrefix("p.yaml:3: thresholds.shrinkge: unknown key (did you mean \"shrinkage\"?)"),
                      error(minimal + "thresholds: {shrinkge: 5}\n"))
    }

    /// Off (absent or 0), the tune stage's inputs are those made before the setting existed; on, it is one more input.
    func testShrinkageChangesTheTuneKeyOnlyWhenOn() throws {
        func parts(_ thresholds: String) throws -> [String] {
            var inputs = StageInputs()
            inputs.addFields("thresholds", try parse(minimal + "thresholds: \(thresholds)\n").thresholds)
            return inputs.parts.map { "\($0.name) \($0.value)" }
        }
        let before = ["thresholds.fixed 0.2", "thresholds.method \"per_label\"", "thresholds.minimum_support 20", "thresholds.weather_rule \"auto\""]
        XCTAssertEqual(try parts("{method: per_label}"), before)
        XCTAssertEqual(try parts("{method: per_label, shrinkage: 0}"), before)
        XCTAssertEqual(try parts("{method: per_label, shrinkage: 20}"),
                       ["thresholds.fixed 0.2", "thresholds.method \"per_label\"", "thresholds.minimum_support 20",
                        "thresholds.shrinkage 20", "thresholds.weather_rule \"auto\""])
        // config.json: written only when on, and read back.
        var settings = ThresholdConfig()
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(settings), as: UTF8.self).contains("shrinkage"))
        settings.shrinkage = 7
        let json = String(decoding: try JSONEncoder().encode(settings), as: UTF8.self)
        XCTAssertTrue(json.contains("\"shrinkage\":7"), json)
        XCTAssertEqual(try parse(minimal + "thresholds: \(json)\n").thresholds, settings)
    }

    /// The rules `tune` scores on six chips (EvaluationTests' `ThresholdTests` table). The global threshold is 0.15 (hand-worked: every
    /// value in (0.05, 0.15] scores (2 + 5/3 + 10/11 + 5/7)/6 ≈ 0.8817, the best; 0.15 is nearest 0.2). From it,
    /// per_label moves agriculture to 0.51 (the lowest of (0.5, 0.7], scoring 35/36); water's best range (0.05, 0.15]
    /// holds its 0.15, primary is on everywhere, the other labels have no positive.
    func testPerLabelRuleIsTheShrunkThresholdsWhenOn() throws {
        // EvaluationTests' ThresholdTests table: all six chips surely primary; A = agriculture, B = water.
        func row(_ values: [String: Float]) -> [Float] {
            var row = [Float](repeating: 0, count: PlanetLabels.count)
            for (name, value) in values { row[PlanetLabels.index(of: name)!] = value }
            return row
        }
        let truth: [LabelSet] = [["primary", "agriculture"], ["primary"], ["primary", "water"],
                                 ["primary", "agriculture", "water"], ["primary"], ["primary"]]
        let probabilities = [
            row(["primary": 0.99, "agriculture": 0.7, "water": 0.05]), row(["primary": 0.99, "agriculture": 0.5, "water": 0.05]),
            row(["primary": 0.99, "agriculture": 0.5, "water": 0.15]), row(["primary": 0.99, "agriculture": 0.7, "water": 0.15]),
            row(["primary": 0.99, "agriculture": 0.5, "water": 0.05]), row(["primary": 0.99, "agriculture": 0.15, "water": 0.15]),
        ]
        let agriculture = PlanetLabels.index(of: "agriculture")!
        var settings = ThresholdConfig()
        settings.minimumSupport = 2
        func perLabel(_ rules: [(DecisionRule, DecisionMethod)]) -> [Float] {
            guard let rule = rules.first(where: { $0.0 == .perLabel }), case .perLabel(let thresholds) = rule.1 else { return [] }
            return thresholds
        }
        var today = [Float](repeating: 0.15, count: 17)
        today[agriculture] = 0.51
        let off = decisionRules(probabilities: probabilities, truth: truth, thresholds: settings)
        XCTAssertEqual(off.rules.map { $0.0 }, [.untuned, .fixed, .global, .perLabel, .expectedF2])
        XCTAssertEqual(off.rules[2].1, .global(0.15))
        XCTAssertEqual(perLabel(off.rules), today)
        XCTAssertEqual(perLabel(off.rules), ThresholdSearch.perLabel(probabilities: probabilities, truth: truth,
                                                                     start: [Float](repeating: 0.15, count: 17), minimumSupport: 2))
        XCTAssertNil(off.note)
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: today), 35.0 / 36, accuracy: 1e-12)

        // K = 1: agriculture (2 positives) keeps 2/3 of its move: 0.15 + 0.36·2/3 = 0.39, on for chips 1-5 again:
        // chip 2 → 5/6, 3 → 10/11, 5 → 5/6, 6 (water on, tp 1 fp 1) → 5/6, chips 1, 4 → 1: (9/2 + 10/11)/6 = 119/132.
        settings.shrinkage = 1
        let on = decisionRules(probabilities: probabilities, truth: truth, thresholds: settings)
        let shrunk = perLabel(on.rules)
        XCTAssertEqual(shrunk[agriculture], 0.39, accuracy: 1e-6)
        XCTAssertEqual(shrunk.enumerated().filter { $0.offset != agriculture }.map { $0.element }, [Float](repeating: 0.15, count: 16))
        XCTAssertEqual(on.rules[2].1, .global(0.15))
        XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: shrunk), 119.0 / 132, accuracy: 1e-12)
        XCTAssertEqual(on.note, "per_label: thresholds shrunk toward the global 0.15 with shrinkage 1 (unshrunk, out-of-fold mean F2 0.9722; "
                       + "shrunk 0.9015): agriculture 0.510 -> 0.390 (2 positives)")
    }
}
