import Evaluation
@testable import Pipeline
import XCTest

/// `thresholds.method` and `weather_rule` pick a decision as documented (issue 17, problem 9: with the
/// rule forced on, `best` chose a weather-rule candidate 0.14 below one printed above it).
final class DecisionChoiceTests: XCTestCase {
    /// The quickstart's shape: without the weather rule, per_label scores 0.90; with it, 0.76.
    let candidates = [
        DecisionCandidate(rule: .untuned, decision: .global(0.5), weatherRule: false, outOfFoldMeanF2: 0.95, testMeanF2: nil),
        DecisionCandidate(rule: .fixed, decision: .global(0.2), weatherRule: false, outOfFoldMeanF2: 0.80, testMeanF2: nil),
        DecisionCandidate(rule: .fixed, decision: .global(0.2), weatherRule: true, outOfFoldMeanF2: 0.84, testMeanF2: nil),
        DecisionCandidate(rule: .global, decision: .global(0.3), weatherRule: false, outOfFoldMeanF2: 0.85, testMeanF2: nil),
        DecisionCandidate(rule: .global, decision: .global(0.3), weatherRule: true, outOfFoldMeanF2: 0.85, testMeanF2: nil),
        DecisionCandidate(rule: .perLabel, decision: .global(0.25), weatherRule: false, outOfFoldMeanF2: 0.90, testMeanF2: nil),
        DecisionCandidate(rule: .perLabel, decision: .global(0.25), weatherRule: true, outOfFoldMeanF2: 0.76, testMeanF2: nil),
    ]

    func choose(_ method: ThresholdConfig.Method, _ rule: ThresholdConfig.WeatherRule) -> (String, String) {
        var thresholds = ThresholdConfig()
        thresholds.method = method
        thresholds.weatherRule = rule
        let (chosen, why) = chooseDecision(candidates, thresholds: thresholds)
        return (chosen.name, why)
    }

    func testBestComparesEveryCandidateUnderAuto() {
        let (name, why) = choose(.best, .auto)
        XCTAssertEqual(name, "per_label")  // never the untuned p >= 0.5, whatever it scores
        XCTAssertEqual(why, "the highest out-of-fold mean F2 (0.9000) of the 6 rules compared; next: global 0.8500; "
                       + "weather rule left out: with it per_label scores 0.7600, no higher")
    }

    func testTheWeatherRuleIsKeptOnlyWhereItRaisesF2() {
        XCTAssertEqual(choose(.fixed, .auto).0, "fixed + weather rule")  // 0.84 > 0.80
        XCTAssertEqual(choose(.global, .auto).0, "global")  // a tie keeps the rule out
        XCTAssertEqual(choose(.perLabel, .auto).0, "per_label")
        XCTAssertTrue(choose(.fixed, .auto).1.hasSuffix("weather rule kept: it raises fixed from 0.8000"), choose(.fixed, .auto).1)
    }

    func testTrueAndFalseForceTheRule() {
        XCTAssertEqual(choose(.best, .on).0, "global + weather rule")
        XCTAssertEqual(choose(.perLabel, .on).0, "per_label + weather rule")
        XCTAssertEqual(choose(.best, .off).0, "per_label")
        XCTAssertEqual(choose(.fixed, .off).0, "fixed")
    }

    func testWeatherRuleIsReadAsAutoTrueOrFalse() throws {
        for (text, expected) in [("auto", ThresholdConfig.WeatherRule.auto), ("true", .on), ("false", .off)] {
            let config = try PipelineConfig.parse("data: {root: x}\nmodels: [{backbone: lenet5}]\nthresholds: {weather_rule: \(text)}\n", file: "t.yaml", defaultName: "t")
            XCTAssertEqual(config.thresholds.weatherRule, expected, text)
        }
        XCTAssertThrowsError(try PipelineConfig.parse("data: {root: x}\nmodels: [{backbone: lenet5}]\nthresholds: {weather_rule: maybe}\n", file: "t.yaml", defaultName: "t")) {
            XCTAssertTrue("\($0)".contains("thresholds.weather_rule: expected auto, true or false, got \"maybe\""), "\($0)")
        }
    }

    /// The README's "any input the config accepts": AlexNet below its minimum is refused when the file is
    /// read (it used to stop on a precondition in its last pool), naming the key.
    func testAnInputTooSmallForTheBackboneIsRefusedNamingTheKey() throws {
        let yaml = "data: {root: x, input_size: 48}\nmodels: [{backbone: resnet18}, {backbone: alexnet}]\n"
        XCTAssertThrowsError(try PipelineConfig.parse(yaml, file: "t.yaml", defaultName: "t")) {
            XCTAssertTrue("\($0)".contains("models.1: alexnet needs an input of at least 63 px, got 48 (from data.input_size)"), "\($0)")
        }
        let config = try PipelineConfig.parse("data: {root: x, input_size: 48}\nmodels: [{backbone: alexnet, input_size: 63}]\n",
                                              file: "t.yaml", defaultName: "t")
        XCTAssertEqual(config.models[0].inputSize, 63)
    }

    /// thresholds.json keeps naming each candidate as before (`per_label + weather rule`), and reads back as its rule.
    func testCandidatesAreNamedInThresholdsJSONAndReadBackAsTheirRule() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(candidates[6])
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "{\"decision\":{\"method\":\"global\",\"threshold\":0.25},"
                       + "\"name\":\"per_label + weather rule\",\"outOfFoldMeanF2\":0.76,\"weatherRule\":true}")
        XCTAssertEqual(try JSONDecoder().decode(DecisionCandidate.self, from: data), candidates[6])
        XCTAssertEqual(try JSONDecoder().decode([DecisionCandidate].self, from: try encoder.encode(candidates)), candidates)
    }
}
