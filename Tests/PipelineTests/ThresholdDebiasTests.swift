import Evaluation
import Foundation
@testable import Pipeline
import PlanetData
import Training
import XCTest

/// `thresholds.debias`: read and checked, keyed only when on, refused where the ensemble does not pass
/// the models' weighting on; `decisionRules` tunes on the unbiased scale and maps back; a run tunes
/// with the weights its folds trained with.
final class ThresholdDebiasTests: XCTestCase, PipelineTextParsing {
    let minimal = "data: {root: x}\nmodels: [{backbone: lenet5}]\n"

    func testDebiasIsReadKeyedOnlyWhenOnAndRefusedWithRidgeOrVote() throws {
        XCTAssertFalse(try parse(minimal).thresholds.debias)
        XCTAssertTrue(try parse(minimal + "thresholds: {debias: true}\n").thresholds.debias)
        XCTAssertEqual(error(minimal + "thresholds: {debias: maybe}\n").prefix(31), "p.yaml:3: thresholds.debias: ex")
        func parts(_ thresholds: String) throws -> [String] {
            var inputs = StageInputs()
            inputs.addFields("thresholds", try parse(minimal + "thresholds: \(thresholds)\n").thresholds)
            return inputs.parts.map(\.name)
        }
        XCTAssertEqual(try parts("{debias: false}"), try parts("{}"))
        XCTAssertEqual(try parts("{debias: true}"), (try parts("{}") + ["thresholds.debias"]).sorted())

        let two = "data: {root: x}\nmodels: [{backbone: lenet5}, {name: b, backbone: lenet5}]\nfolds: {k: 2}\n"
        XCTAssertEqual(error(two + "ensemble: {method: ridge}\nthresholds: {debias: true}\n"),
                       "p.yaml:5: thresholds.debias: undoes the models' loss weighting, which ridge does not pass on: use it with ensemble.method mean or weighted_mean")
        XCTAssertTrue(error(two + "ensemble: {method: vote}\nthresholds: {debias: true}\n").contains("which vote does not pass on"))
        XCTAssertEqual(error(two + "ensemble: {method: mean}\nthresholds: {debias: true}\n"), "no error")
        XCTAssertEqual(error(minimal + "ensemble: {method: ridge}\nthresholds: {debias: true}\n"), "no error", "one model: nothing is stacked")
    }

    /// On random chips: the global and per-label rules are the searches on the unbiased probabilities,
    /// mapped back, and they decide every chip as their unbiased thresholds decide it there.
    func testRulesAreTunedOnTheUnbiasedScaleAndMappedBack() throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        var weights = [Float](repeating: 1, count: PlanetLabels.count)
        for (l, w) in [(1, 10), (2, 6.5), (7, 10), (13, 2)] as [(Int, Float)] { weights[l] = w }
        let bias = TrainingBias(positiveWeights: weights, smoothing: 0.05)
        var truth: [LabelSet] = [], probabilities: [[Float]] = []
        for _ in 0..<300 {
            var set = LabelSet(), row = [Float](repeating: 0, count: PlanetLabels.count)
            for l in 0..<PlanetLabels.count {
                let on = next() < (weights[l] > 1 ? 0.08 : 0.4)
                if on { set.insert(l) }
                let q = on ? 0.35 + 0.65 * next() : 0.6 * next() * next()
                row[l] = bias.biased(q, label: l)
            }
            truth.append(set)
            probabilities.append(row)
        }
        var settings = ThresholdConfig()
        settings.minimumSupport = 0
        settings.shrinkage = 20
        settings.debias = true
        let (rules, note) = decisionRules(probabilities: probabilities, truth: truth, thresholds: settings, bias: bias)

        let unbiased = bias.unbiased(rows: probabilities)
        let global = ThresholdSearch.global(probabilities: unbiased, truth: truth).threshold
        let tuned = ThresholdSearch.perLabel(probabilities: unbiased, truth: truth, start: [Float](repeating: global, count: 17), minimumSupport: 0)
        let shrunk = ThresholdSearch.shrink(tuned, toward: global, support: ThresholdSearch.support(truth), strength: 20)
        XCTAssertEqual(rules.map(\.0), [.untuned, .fixed, .global, .perLabel, .expectedF2])
        XCTAssertEqual(rules[2].1, .perLabel(bias.biased(thresholds: [Float](repeating: global, count: 17))))
        XCTAssertEqual(rules[3].1, .perLabel(bias.biased(thresholds: shrunk)))
        XCTAssertEqual(rules[0].1, .global(0.5), "the untuned rule stays on the models' probabilities")
        let heavy = bias.biased(thresholds: [Float](repeating: global, count: 17))
        XCTAssertGreaterThan(heavy[1], heavy[13])
        XCTAssertGreaterThan(heavy[13], heavy[0])
        for (decision, onUnbiased) in [(rules[2].1, [Float](repeating: global, count: 17)), (rules[3].1, shrunk)] {
            guard case .perLabel(let thresholds) = decision else { return XCTFail("\(decision)") }
            XCTAssertEqual(ThresholdSearch.meanF2(probabilities: probabilities, truth: truth, thresholds: thresholds),
                           ThresholdSearch.meanF2(probabilities: unbiased, truth: truth, thresholds: onUnbiased), accuracy: 1e-12)
        }
        XCTAssertTrue(note?.hasPrefix(String(format: "thresholds tuned with the models' positive weights (up to 10.0) and label smoothing 0.050 undone: global %.2f there; per_label: ", global)) == true,
                      note ?? "no note")
    }

    /// A run on the real sample: the `global` rule's thresholds are one unbiased threshold mapped back
    /// through the balanced weights each fold trained with (log-averaged over the two) and ε.
    func testARunTunesWithTheWeightsItsFoldsTrainedWith() throws {
        let folder = StageCacheTests.scratch + "canopy-debias-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)
        let results = folder + "/results"
        func config(debias: Bool) throws -> PipelineConfig {
            try PipelineConfig.parse("""
                name: debias
                data: {root: \(root), input_size: 32, limit_test: 6}
                folds: {k: 2, seed: 3}
                models:
                  - {backbone: lenet5, epochs: 1, batch_size: 5, augmentation: none, loss: {kind: bce, positive_weights: balanced, label_smoothing: 0.05}}
                thresholds: {method: global, debias: \(debias)}
                outputs: {sample_chips: 0}
                """, file: "debias.yaml", defaultName: "debias")
        }
        try StageCacheTests.run(try config(debias: false), results: results)
        let lines = try StageCacheTests.run(try config(debias: true), results: results)
        XCTAssertEqual(Array(lines.prefix(4)), ["train: up to date (2 model folds: training and predictions reused)", "predict: up to date (reused)",
                                                "ensemble: up to date (reused)", "tune: redone (thresholds.debias changed)"])

        let dataset = try PlanetDataset.open(root: root, bands: .rgb)
        let foldOf = try Dictionary(uniqueKeysWithValues: String(contentsOfFile: results + "/folds.csv", encoding: .utf8)
            .split(separator: "\n").dropFirst().map { line in
                let parts = line.split(separator: ",")
                return (String(parts[0]), try XCTUnwrap(Int(parts[1])))
            })
        let bias = TrainingBias.average((0..<2).map { fold in
            TrainingBias(positiveWeights: LossSpec.balancedPositiveWeights(dataset.train.filter { foldOf[$0.name] != fold }), smoothing: 0.05)
        })
        let record = try JSONDecoder().decode(DecisionRecord.self, from: Data(contentsOf: URL(fileURLWithPath: results + "/thresholds.json")))
        XCTAssertEqual(record.chosen.rule, .global)
        guard case .perLabel(let thresholds) = record.chosen.decision else { return XCTFail("\(record.chosen.decision)") }
        let unbiased = bias.unbiased(thresholds[0], label: 0)
        XCTAssertEqual(thresholds, bias.biased(thresholds: [Float](repeating: (unbiased * 100).rounded() / 100, count: 17)))
    }
}
