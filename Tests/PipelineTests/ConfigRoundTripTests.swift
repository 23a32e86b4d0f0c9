import Foundation
@testable import Pipeline
import Training
import XCTest

/// One schema: `config.json` in a results folder is the settings in the pipeline file's own keys, and
/// runs again as a pipeline file with every stage reused; the stage keys are those made before the
/// settings were coded in the file's keys.
final class ConfigRoundTripTests: XCTestCase {
    func testConfigJSONRunsAgainAsAPipelineAndRedoesNothing() throws {
        let folder = StageCacheTests.scratch + "canopy-roundtrip-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)
        let results = folder + "/results"
        let config = try PipelineConfig.parse("""
            data: {root: \(root), input_size: 32, limit_test: 6}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 1, batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, augmentation: {symmetries: d4, crop: {scale: [0.8, 1]}},
                 schedule: {kind: step, every_epochs: 2}, loss: {kind: bce, positive_weights: balanced}, clip_gradient_norm: 5}
              - {name: lenet5-b, backbone: lenet5, epochs: 1, batch_size: 5, seed: 9, augmentation: none, early_stopping: {metric: loss}, on_non_finite: skip_batch}
            tta: flips
            ensemble: {method: weighted_mean}
            thresholds: {method: per_label, weather_rule: yes}
            outputs: {sample_chips: 2, submission: false}
            """, file: "roundtrip.yaml", defaultName: "roundtrip", overrides: ["models.1.batch_size=4"])

        func run(_ config: PipelineConfig, source: String) throws -> [String] {
            let progress = ProgressPrinter(logPath: results + "/train_log.csv", isTerminal: false)
            progress.quiet = true
            let runner = PipelineRunner(config: config, source: source, results: results, progress: progress)
            try runner.run()
            return runner.cacheDecisions
        }
        let first = try run(config, source: "roundtrip.yaml")
        XCTAssertTrue(first.contains("report: redone (not done before)"), "\(first)")

        // The pipeline file's own keys, defaults and --set overrides written out.
        let written = try String(contentsOfFile: results + "/config.json", encoding: .utf8)
        for key in ["\"input_size\" : 32", "\"learning_rate\" : 0.002", "\"every_epochs\" : 2", "\"positive_weights\" : \"balanced\"",
                    "\"weather_rule\" : \"true\"", "\"batch_size\" : 4", "\"name\" : \"roundtrip\"", "\"root\" : \"\(root)\""] {
            XCTAssertTrue(written.contains(key), "\(key) not in \(written)")
        }
        XCTAssertFalse(written.contains("inputSize"), written)

        // Read back, it is the same configuration; run, it redoes nothing.
        let again = try PipelineConfig.load(results + "/config.json")
        XCTAssertEqual(again, config)
        let second = try run(again, source: results + "/config.json")
        XCTAssertEqual(second, ["train: up to date (4 model folds: training and predictions reused)", "predict: up to date (reused)",
                                "ensemble: up to date (reused)", "tune: up to date (reused)", "submit: up to date (reused)",
                                "report: up to date (reused)"])
        XCTAssertEqual(try String(contentsOfFile: results + "/config.json", encoding: .utf8), written, "written again the same")
    }

    /// The models', ensemble's and thresholds' stage inputs of every shipped pipeline and of a file
    /// using every schedule and loss: a digest of the text the code before the schema change made
    /// (the settings then had Swift's synthesized coding), so results made before stay up to date.
    func testStageInputsAreThoseMadeBeforeTheSchemaChange() throws {
        let extra = """
            data: {root: x, input_size: 96}
            models:
              - {backbone: lenet5, schedule: {kind: step, every_epochs: 3, gamma: 0.5}, clip_gradient_norm: 2.5, on_non_finite: skip_batch, loss: {kind: soft_f2}}
              - {name: b, backbone: lenet5, schedule: {kind: plateau}, loss: {kind: bce+soft_f2, positive_weights: balanced}, early_stopping: {metric: loss}, augmentation: none}
              - {name: c, backbone: lenet5, schedule: {kind: one_cycle}, optimizer: {kind: adamw, nesterov: false}, augmentation: {crop: {}, translate: 3}}
              - {name: d, backbone: alexnet, schedule: {kind: constant}, init: /x/y.safetensors, init_strict: false, seed: 7}
            ensemble: {method: weighted_mean, ridge_lambda: 0.5}
            thresholds: {method: per_label, weather_rule: yes, fixed: 0.3, minimum_support: 3}
            folds: {k: 3, seed: 9}
            tta: flips
            outputs: {submission: false, sample_chips: 3}
            """
        // The shipped pipelines as they were when these keys were made (their recipes change; the
        // digest is of the coding): Fixtures/stage-keys/.
        let fixtures = PipelineConfigTests.repository.appendingPathComponent("Tests/PipelineTests/Fixtures/stage-keys")
        var configs = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).sorted().filter { $0.hasSuffix(".yaml") }.map {
            ($0, try PipelineConfig.load(fixtures.appendingPathComponent($0).path))
        }
        configs.append(("extra.yaml", try PipelineConfig.parse(extra, file: "extra.yaml", defaultName: "extra")))
        var text = ""
        var quickstart: [String] = []
        for (file, config) in configs {
            var inputs = StageInputs()
            for model in config.models { inputs.addModelSettings(model) }
            inputs.addFields("ensemble", config.ensemble)
            inputs.addFields("thresholds", config.thresholds)
            inputs.add("tta", config.tta.rawValue)
            inputs.add("folds", fingerprint(config.folds))
            inputs.add("submission", String(config.outputs.submission))
            inputs.add("report", String(config.outputs.report) + String(config.outputs.sampleChips))
            for part in inputs.parts { text += "\(file)\t\(part.name)\t\(part.value)\n" }
            if file == "quickstart.yaml" { quickstart = inputs.parts.prefix(11).map { "\($0.name) \($0.value)" } }
        }
        XCTAssertEqual(quickstart, [
            "models.augmentation {\"brightness\":0.1,\"contrast\":0.1,\"crop\":{\"ratio\":[0.9,1.1],\"scale\":[0.8,1]},\"gamma\":0.1,\"symmetries\":\"d4\",\"translate\":2}",
            "models.backbone \"resnet18\"", "models.batch_size 8", "models.early_stopping {\"metric\":\"f2\",\"patience\":3}", "models.epochs 3",
            "models.input_size 64", "models.loss {\"kind\":\"bce\"}", "models.on_non_finite \"stop\"",
            "models.optimizer {\"kind\":\"sgd\",\"learningRate\":0.02,\"momentum\":0.9,\"nesterov\":true,\"weightDecay\":0.0001}",
            "models.schedule {\"cosine\":{\"warmupEpochs\":1}}", "models.seed 1",
        ])
        XCTAssertEqual(fingerprint([text]), "619296aa9dda3481", text)
    }
}
