import Evaluation
import Foundation
import Pipeline
import PlanetData
import XCTest

/// The whole pipeline on the real sample chips with a small network: every artefact, the submission's
/// rows and order, stage skipping and resuming.
final class PipelineRunTests: XCTestCase {
    static let sample = PipelineConfigTests.repository.appendingPathComponent("datasets/planet-sample").path

    func config(_ extra: String = "") throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: tiny
            data: {root: \(Self.sample), input_size: 32}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 2, batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, schedule: {kind: constant}, augmentation: {symmetries: d4}}
              - {name: lenet5-b, backbone: lenet5, epochs: 1, batch_size: 5, seed: 9, augmentation: none}
            tta: flips
            ensemble: {method: ridge}
            outputs: {sample_chips: 4}
            \(extra)
            """, file: "tiny.yaml", defaultName: "tiny")
    }

    func testTheWholePipelineWritesEveryArtefactAndSkipsWhatIsDone() throws {
        let folder = NSTemporaryDirectory() + "canopy-pipeline-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let progress = ProgressPrinter(logPath: folder + "/train_log.csv", isTerminal: false)
        progress.quiet = true
        let runner = PipelineRunner(config: try config(), source: "tiny.yaml", results: folder, progress: progress)
        try runner.run()

        for file in ["config.json", "folds.csv", "submission.csv", "report.html", "report.md", "report.csv", "metrics.json",
                     "thresholds.json", "ensemble.json", "train_log.csv", "predictions/ensemble-oof.csv", "predictions/lenet5-test.csv",
                     "models/lenet5/fold-0/best.safetensors", "models/lenet5/fold-1/last.safetensors", "models/lenet5-b/fold-1/fold.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/" + file), file)
        }
        // One row per sample-submission row, in its order, known tags only.
        let sample = try LabelFile.readSampleSubmission(Self.sample + "/sample_submission_v2.csv")
        let submission = try Submission.read(folder + "/submission.csv")
        XCTAssertEqual(submission.map(\.name), sample)
        // weather_rule: auto keeps the rule only where it raised out-of-fold F2; where kept, it holds on every row.
        let decisionRecord = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/thresholds.json"))) as? [String: Any]
        let chosen = try XCTUnwrap(decisionRecord?["chosen"] as? [String: Any])
        let why = try XCTUnwrap(decisionRecord?["why"] as? String)
        if try XCTUnwrap(chosen["weatherRule"] as? Bool) {
            XCTAssertTrue(submission.allSatisfy { $0.labels.intersection(PlanetLabels.weather).count == 1 }, "the weather rule holds")
            XCTAssertTrue(why.contains("weather rule kept"), why)
        } else {
            XCTAssertTrue(why.contains("weather rule left out"), why)
        }
        // The log has one row per model, fold and epoch (2 folds x (2 + 1) epochs).
        let log = try String(contentsOfFile: folder + "/train_log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 1 + 6)
        let report = try ReportWriter.decode(Array(FileManager.default.contents(atPath: folder + "/metrics.json")!))
        XCTAssertEqual(report.training.count, 4)
        XCTAssertTrue(report.methods.contains { $0.method.hasPrefix("ensemble (ridge)") })
        XCTAssertEqual(report.samples.count, 4)

        // thresholds.json's out-of-fold mean F2 of three rules, recomputed here from the ensemble's
        // out-of-fold table and the label file: per chip 5·tp / (5·tp + 4·fn + fp) (0 when tp = 0),
        // a label kept when p >= t; the weather rule keeps only the most probable of clear, cloudy,
        // haze, partly_cloudy (the first on ties), and nothing on the ground under cloudy.
        let names = PlanetLabels.names
        let weatherNames = ["clear", "cloudy", "haze", "partly_cloudy"]
        var truth: [String: Set<String>] = [:]
        for line in try String(contentsOfFile: Self.sample + "/train_v2.csv", encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",")
            truth[String(fields[0])] = Set(fields[1].split(separator: " ").map(String.init))
        }
        let oofLines = try String(contentsOfFile: folder + "/predictions/ensemble-oof.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(oofLines[0].split(separator: ",").map(String.init), ["image_name"] + names)
        let oof = oofLines.dropFirst().map { line -> (String, [Double]) in
            let fields = line.split(separator: ",")
            return (String(fields[0]), fields.dropFirst().map { Double($0)! })
        }
        XCTAssertEqual(oof.count, 20)
        func meanF2(threshold: Double, weather: Bool) -> Double {
            oof.map { name, p in
                var predicted = Set(names.indices.filter { p[$0] >= threshold }.map { names[$0] })
                if weather {
                    var best = weatherNames[0]
                    for label in weatherNames.dropFirst() where p[names.firstIndex(of: label)!] > p[names.firstIndex(of: best)!] { best = label }
                    predicted = best == "cloudy" ? [best] : predicted.subtracting(weatherNames).union([best])
                }
                let actual = truth[name]!
                let tp = Double(predicted.intersection(actual).count), fp = Double(predicted.subtracting(actual).count)
                let fn = Double(actual.subtracting(predicted).count)
                return tp == 0 ? 0 : 5 * tp / (5 * tp + 4 * fn + fp)
            }.reduce(0, +) / Double(oof.count)
        }
        let thresholdsFile = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/thresholds.json"))) as? [String: Any])
        let candidates = try XCTUnwrap(thresholdsFile["candidates"] as? [[String: Any]])
        for (name, threshold, weather) in [("p >= 0.5 (untuned)", 0.5, false), ("fixed", 0.2, false), ("fixed + weather rule", 0.2, true)] {
            let candidate = try XCTUnwrap(candidates.first { $0["name"] as? String == name }, name)
            XCTAssertEqual(try XCTUnwrap(candidate["outOfFoldMeanF2"] as? Double), meanF2(threshold: threshold, weather: weather), accuracy: 1e-12, name)
        }

        // A second run finds every stage up to date and changes nothing.
        let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/submission.csv"))
        let stamps = try String(contentsOfFile: folder + "/stages.json", encoding: .utf8)
        try PipelineRunner(config: try config(), source: "tiny.yaml", results: folder, progress: progress).run()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/submission.csv")), before)
        XCTAssertEqual(try String(contentsOfFile: folder + "/stages.json", encoding: .utf8), stamps)

        // Changing the decision rule redoes tuning onwards, not training.
        let trained = try Data(contentsOf: URL(fileURLWithPath: folder + "/models/lenet5/fold-0/fold.json"))
        try PipelineRunner(config: try config("thresholds: {method: expected_f2}"), source: "tiny.yaml", results: folder, progress: progress).run()
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/models/lenet5/fold-0/fold.json")), trained)
        let decisions = try String(contentsOfFile: folder + "/thresholds.json", encoding: .utf8)
        XCTAssertTrue(decisions.contains("\"expected_f2 + weather rule\""), decisions)

        // `canopy predict --images`: the trained ensemble on a loose folder gives the test table's
        // probabilities and the submission's tags for the same chips.
        let predicting = PipelineRunner(config: try config("thresholds: {method: expected_f2}"), source: "tiny.yaml", results: folder, progress: progress)
        try predicting.run(through: .tune)
        let output = folder + "/images.csv"
        let summary = try predicting.predictImages(in: Self.sample + "/test-jpg", to: output)
        let rows = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows[0].map(String.init), ["image_name", "tags"] + PlanetLabels.names)
        XCTAssertEqual(rows.count - 1, summary.written)
        XCTAssertEqual(summary.written, summary.chips)
        let test = try ProbabilityTable.read(folder + "/predictions/ensemble-test.csv")
        let tagsByName = Dictionary(uniqueKeysWithValues: try Submission.read(folder + "/submission.csv").map { ($0.name, $0.labels) })
        for row in rows.dropFirst() {
            let name = String(row[0])
            let expected = test.rows[test.names.firstIndex(of: name)!]
            for (value, reference) in zip(row.dropFirst(2), expected) { XCTAssertEqual(Float(value)!, reference, accuracy: 1e-6, name) }
            XCTAssertEqual(String(row[1]), tagsByName[name]!.tags, name)
        }
        XCTAssertThrowsError(try predicting.predictImages(in: folder + "/no-such-folder", to: folder + "/x.csv")) { error in
            XCTAssertTrue("\(error)".contains("no-such-folder"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/x.csv"))
    }
}
