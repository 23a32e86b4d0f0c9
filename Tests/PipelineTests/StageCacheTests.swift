import Evaluation
import Foundation
import Pipeline
import PlanetData
import XCTest

/// The stage cache: each (model, fold)'s training is keyed by what it reads (its chips, the model's
/// training settings, the normalisation, the `init` file's content) and its predictions by the
/// weights, the TTA and the test chips; later stages by their inputs. Settings that change no result
/// retrain nothing. And chips that do not decode under `on_bad_image: skip`: left out of every table,
/// metric and threshold, listed in the report and in `skipped-chips.csv`, an empty submission row.
final class StageCacheTests: XCTestCase {
    static let scratch = FileManager.default.isWritableFile(atPath: "/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()

    /// A copy of the real sample (20 training and 60 test chips) in `folder/data`, without its stored
    /// statistics (so a test's runs compute their own).
    static func copySample(into folder: String) throws -> String {
        let root = folder + "/data"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for item in ["train_v2.csv", "sample_submission_v2.csv", "train-jpg", "test-jpg", "test-jpg-additional"] {
            try FileManager.default.copyItem(atPath: PipelineRunTests.sample + "/" + item, toPath: root + "/" + item)
        }
        return root
    }

    func copySample(into folder: String) throws -> String { try Self.copySample(into: folder) }

    struct Settings {
        var tta = "none"
        var workers = 2
        var cacheMB = 1024
        var onBadImage = "fail"
        var thresholds = "best"
        var ensemble = "ridge"
        var epochsB = 1
        var initA: String?
        var twoModels = true
        var limitTest = "limit_test: 6, "
    }

    func config(root: String, _ s: Settings) throws -> PipelineConfig {
        let initA = s.initA.map { ", init: \($0)" } ?? ""
        let modelB = s.twoModels ? "\n  - {name: lenet5-b, backbone: lenet5, epochs: \(s.epochsB), batch_size: 5, seed: 9, augmentation: none}" : ""
        return try PipelineConfig.parse("""
            name: cache
            data: {root: \(root), input_size: 32, \(s.limitTest)workers: \(s.workers), cache_mb: \(s.cacheMB), on_bad_image: \(s.onBadImage)}
            folds: {k: 2, seed: 3}
            models:
              - {backbone: lenet5, epochs: 1, batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, augmentation: {symmetries: d4}\(initA)}\(modelB)
            tta: \(s.tta)
            ensemble: {method: \(s.ensemble)}
            thresholds: {method: \(s.thresholds)}
            outputs: {sample_chips: 2}
            """, file: "cache.yaml", defaultName: "cache")
    }

    /// Runs the pipeline; returns what it printed about reusing and redoing.
    @discardableResult
    static func run(_ config: PipelineConfig, results: String, source: String = "cache.yaml") throws -> [String] {
        let progress = ProgressPrinter(logPath: results + "/train_log.csv", isTerminal: false)
        progress.quiet = true
        let runner = PipelineRunner(config: config, source: source, results: results, progress: progress)
        try runner.run()
        return runner.cacheDecisions
    }

    @discardableResult
    func run(_ config: PipelineConfig, results: String) throws -> [String] { try Self.run(config, results: results) }

    /// Each fold's training state (bytes and modification time of `resume.safetensors`): a fold that
    /// trains even one epoch rewrites it.
    func trainingState(_ results: String, models: [String]) throws -> [String: (Data, Date)] {
        var state: [String: (Data, Date)] = [:]
        for model in models {
            for fold in 0..<2 {
                let file = results + "/models/\(model)/fold-\(fold)/resume.safetensors"
                let date = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: file)[.modificationDate] as? Date)
                state["\(model) fold \(fold)"] = (try Data(contentsOf: URL(fileURLWithPath: file)), date)
            }
        }
        return state
    }

    func assertUntouched(_ before: [String: (Data, Date)], _ after: [String: (Data, Date)], _ folds: [String], _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) {
        for fold in folds {
            XCTAssertEqual(before[fold]?.0, after[fold]?.0, "\(what): \(fold) retrained", file: file, line: line)
            XCTAssertEqual(before[fold]?.1, after[fold]?.1, "\(what): \(fold) retrained", file: file, line: line)
        }
    }

    func testSettingsThatChangeNoTrainingRetrainNothingAndEpochsRetrainOnlyThatModel() throws {
        let folder = Self.scratch + "canopy-cache-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try copySample(into: folder)
        let results = folder + "/results"
        let models = ["lenet5", "lenet5-b"], allFolds = ["lenet5 fold 0", "lenet5 fold 1", "lenet5-b fold 0", "lenet5-b fold 1"]
        var settings = Settings()
        let first = try run(try config(root: root, settings), results: results)
        XCTAssertTrue(first.contains("lenet5 fold 0: training redone (not done before); predictions redone"), "\(first)")
        var state = try trainingState(results, models: models)
        let testBefore = try ProbabilityTable.read(results + "/models/lenet5/fold-0/test.csv")

        // tta: every fold's predictions are redone from its kept weights; no training.
        settings.tta = "flips"
        var lines = try run(try config(root: root, settings), results: results)
        for fold in allFolds {
            XCTAssertTrue(lines.contains { $0.hasPrefix("\(fold): training reused (best epoch 1); predictions redone (tta changed: none -> flips)") },
                          "\(fold): \(lines)")
        }
        XCTAssertFalse(lines.contains { $0.contains("training redone") }, "\(lines)")
        var now = try trainingState(results, models: models)
        assertUntouched(state, now, allFolds, "tta")
        XCTAssertNotEqual(try ProbabilityTable.read(results + "/models/lenet5/fold-0/test.csv"), testBefore, "flips predicted anew")
        XCTAssertTrue(lines.contains("ensemble: redone (predictions changed)"), "\(lines)")

        // workers, the decoded-chip cache and on_bad_image change no result: every stage is up to date.
        settings.workers = 1
        settings.cacheMB = 0
        settings.onBadImage = "skip"
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertEqual(lines, ["train: up to date (4 model folds: training and predictions reused)", "predict: up to date (reused)",
                               "ensemble: up to date (reused)", "tune: up to date (reused)", "submit: up to date (reused)",
                               "report: up to date (reused)"])

        // The decision rule: tuning onwards.
        settings.thresholds = "per_label"
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertEqual(Array(lines.prefix(4)), ["train: up to date (4 model folds: training and predictions reused)", "predict: up to date (reused)",
                                                "ensemble: up to date (reused)", "tune: redone (thresholds.method changed: \"best\" -> \"per_label\")"])
        XCTAssertTrue(try String(contentsOfFile: results + "/thresholds.json", encoding: .utf8).contains("\"per_label + weather rule\""))

        // The ensemble method: the ensemble onwards.
        settings.ensemble = "mean"
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertEqual(Array(lines.prefix(3)), ["train: up to date (4 model folds: training and predictions reused)", "predict: up to date (reused)",
                                                "ensemble: redone (ensemble.method changed: \"ridge\" -> \"mean\")"])
        XCTAssertTrue(try String(contentsOfFile: results + "/ensemble.json", encoding: .utf8).contains("\"mean\""))
        now = try trainingState(results, models: models)
        assertUntouched(state, now, allFolds, "workers, on_bad_image, thresholds, ensemble")

        // One model's epochs: that model alone trains (both its folds); the other is reused whole.
        settings.epochsB = 2
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertTrue(lines.contains("lenet5 fold 0: training reused (best epoch 1); predictions reused"), "\(lines)")
        XCTAssertTrue(lines.contains("lenet5 fold 1: training reused (best epoch 1); predictions reused"), "\(lines)")
        XCTAssertTrue(lines.contains("lenet5-b fold 0: training redone (models.epochs changed: 1 -> 2); predictions redone"), "\(lines)")
        XCTAssertTrue(lines.contains("lenet5-b fold 1: training redone (models.epochs changed: 1 -> 2); predictions redone"), "\(lines)")
        now = try trainingState(results, models: models)
        assertUntouched(state, now, ["lenet5 fold 0", "lenet5 fold 1"], "lenet5-b epochs")
        for fold in ["lenet5-b fold 0", "lenet5-b fold 1"] { XCTAssertNotEqual(state[fold]?.1, now[fold]?.1, "\(fold) trained") }
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results + "/models/lenet5-b/fold-0/fold.json"))) as? [String: Any])
        XCTAssertEqual((record["history"] as? [Any])?.count, 2)
        state = now

        // Switching tta back redoes predictions only (no training), as the first change did.
        settings.tta = "none"
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertFalse(lines.contains { $0.contains("training redone") }, "\(lines)")
        assertUntouched(state, try trainingState(results, models: models), allFolds, "tta back")

        // A fold's table deleted: that fold predicts again from its kept weights, the same bytes.
        let table = results + "/models/lenet5/fold-1/test.csv"
        let tableBytes = try Data(contentsOf: URL(fileURLWithPath: table))
        try FileManager.default.removeItem(atPath: table)
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertEqual(lines.first, "train: redone (outputs missing)", "\(lines)")
        XCTAssertTrue(lines.contains("lenet5 fold 1: training reused (best epoch 1); predictions redone (outputs missing)"), "\(lines)")
        XCTAssertTrue(lines.contains("lenet5 fold 0: training reused (best epoch 1); predictions reused"), "\(lines)")
        XCTAssertFalse(lines.contains { $0.contains("training redone") }, "\(lines)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: table)), tableBytes)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/submission.csv"))
        assertUntouched(state, try trainingState(results, models: models), allFolds, "a fold's table deleted")
    }

    /// `init` and the chips are keyed by their files' content, not their path or time: new bytes at
    /// the same path retrain, a new modification time with the same bytes does not.
    func testInitAndChipsAreKeyedByTheirFilesContent() throws {
        let folder = Self.scratch + "canopy-cache-init-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try copySample(into: folder)
        let donor = folder + "/donor", results = folder + "/results", weights = folder + "/init.safetensors"
        var settings = Settings()
        settings.twoModels = false
        try run(try config(root: root, settings), results: donor)
        try FileManager.default.copyItem(atPath: donor + "/models/lenet5/fold-0/best.safetensors", toPath: weights)

        settings.initA = weights
        try run(try config(root: root, settings), results: results)
        // Same bytes, touched later: reused.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 60)], ofItemAtPath: weights)
        var lines = try run(try config(root: root, settings), results: results)
        XCTAssertEqual(lines.first, "train: up to date (2 model folds: training and predictions reused)")
        // Other bytes at the same path: both folds train again, saying why.
        try FileManager.default.removeItem(atPath: weights)
        try FileManager.default.copyItem(atPath: donor + "/models/lenet5/fold-1/best.safetensors", toPath: weights)
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertTrue(lines.contains("lenet5 fold 0: training redone (init changed); predictions redone"), "\(lines)")
        XCTAssertTrue(lines.contains("lenet5 fold 1: training redone (init changed); predictions redone"), "\(lines)")

        // A training chip's file: touched with the same bytes, nothing is redone; other bytes (a byte
        // after the JPEG's end, which decoders ignore) retrain both folds (it trains one, validates the other).
        let chip = try XCTUnwrap(try PlanetDataset.open(root: root, bands: .rgb).train[3].jpegPath)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 120)], ofItemAtPath: chip)
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertEqual(lines.first, "train: up to date (2 model folds: training and predictions reused)")
        try (try Data(contentsOf: URL(fileURLWithPath: chip)) + [0]).write(to: URL(fileURLWithPath: chip))
        lines = try run(try config(root: root, settings), results: results)
        XCTAssertTrue(lines.contains("lenet5 fold 0: training redone (chips changed); predictions redone"), "\(lines)")
        XCTAssertTrue(lines.contains("lenet5 fold 1: training redone (chips changed); predictions redone"), "\(lines)")
    }

    /// One training chip and one test chip cut short: the training chip has no out-of-fold row in any
    /// table, every metric and threshold is computed without it (checked against values computed here
    /// from the tables and the label file), the report and `skipped-chips.csv` list both with their
    /// errors, and the test chip's submission row is empty.
    func testChipsThatDoNotDecodeAreLeftOutOfEveryMetricAndListed() throws {
        let folder = Self.scratch + "canopy-cache-skip-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try copySample(into: folder)
        let results = folder + "/results"
        let dataset = try PlanetDataset.open(root: root, bands: .rgb)
        let badTrain = dataset.train[7], badTest = dataset.test[4]
        for chip in [badTrain, badTest] {
            let path = try XCTUnwrap(chip.jpegPath)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: path))
        }
        var settings = Settings()
        settings.twoModels = false
        settings.onBadImage = "skip"
        settings.thresholds = "fixed"
        settings.limitTest = ""
        try run(try config(root: root, settings), results: results)

        // No row for the bad chip anywhere; every other chip once.
        let scored = dataset.train.map(\.name).filter { $0 != badTrain.name }
        for table in ["predictions/lenet5-oof.csv", "predictions/lenet5-oof-notta.csv", "predictions/ensemble-oof.csv"] {
            XCTAssertEqual(try ProbabilityTable.read(results + "/" + table).names, scored, table)
        }
        let foldTables = try (0..<2).map { try ProbabilityTable.read(results + "/models/lenet5/fold-\($0)/oof.csv") }
        XCTAssertEqual(foldTables.map(\.count).reduce(0, +), 19)
        XCTAssertFalse(foldTables.contains { $0.names.contains(badTrain.name) })
        XCTAssertFalse(try ProbabilityTable.read(results + "/predictions/ensemble-test.csv").names.contains(badTest.name))

        // Mean F2 by hand over the 19 scored chips: per chip 5·tp / (5·tp + 4·fn + fp), 0 when tp = 0.
        let names = PlanetLabels.names
        var truth: [String: Set<String>] = [:]
        for line in try String(contentsOfFile: root + "/train_v2.csv", encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: ",")
            truth[String(fields[0])] = Set(fields[1].split(separator: " ").map(String.init))
        }
        func meanF2(_ table: ProbabilityTable, thresholds: [Float]) -> Double {
            zip(table.names, table.rows).map { name, p in
                let predicted = Set(names.indices.filter { p[$0] >= thresholds[$0] }.map { names[$0] })
                let actual = truth[name]!
                let tp = Double(predicted.intersection(actual).count), fp = Double(predicted.subtracting(actual).count)
                let fn = Double(actual.subtracting(predicted).count)
                return tp == 0 ? 0 : 5 * tp / (5 * tp + 4 * fn + fp)
            }.reduce(0, +) / 19
        }
        let ensembleOOF = try ProbabilityTable.read(results + "/predictions/ensemble-oof.csv")
        let decisions = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: results + "/thresholds.json"))) as? [String: Any])
        let fixed = try XCTUnwrap((decisions["candidates"] as? [[String: Any]])?.first { $0["name"] as? String == "fixed" })
        XCTAssertEqual(try XCTUnwrap(fixed["outOfFoldMeanF2"] as? Double), meanF2(ensembleOOF, thresholds: [Float](repeating: 0.2, count: 17)), accuracy: 1e-12)
        // The global threshold: the best of its grid over the 19 chips, so no threshold does better by hand.
        let global = try XCTUnwrap((decisions["candidates"] as? [[String: Any]])?.first { $0["name"] as? String == "global" })
        let globalF2 = try XCTUnwrap(global["outOfFoldMeanF2"] as? Double)
        for t in stride(from: Float(0.01), through: 0.99, by: 0.01) {
            XCTAssertLessThanOrEqual(meanF2(ensembleOOF, thresholds: [Float](repeating: t, count: 17)), globalF2 + 1e-9, "threshold \(t)")
        }

        // The report: sections count 19 chips (the bad chip's fold one fewer), F2 as computed here.
        let report = try ReportWriter.decode(Array(FileManager.default.contents(atPath: results + "/metrics.json")!))
        let model = try XCTUnwrap(report.sections.first { $0.name == "lenet5 out-of-fold" })
        XCTAssertEqual(model.chips, 19)
        XCTAssertEqual(model.meanF2, meanF2(try ProbabilityTable.read(results + "/predictions/lenet5-oof.csv"), thresholds: model.labels.map { $0.threshold ?? -1 }),
                       accuracy: 1e-9)
        XCTAssertEqual(model.labels.map(\.support).reduce(0, +), scored.map { truth[$0]!.count }.reduce(0, +))
        let folds = try String(contentsOfFile: results + "/folds.csv", encoding: .utf8)
        let badFold = try XCTUnwrap(folds.split(separator: "\n").first { $0.hasPrefix(badTrain.name + ",") }?.split(separator: ",").last.flatMap { Int($0) })
        let foldSection = try XCTUnwrap(report.sections.first { $0.name == "lenet5 fold \(badFold)" })
        XCTAssertEqual(foldSection.chips, foldTables[badFold].count)
        XCTAssertEqual(foldSection.chips + (report.sections.first { $0.name == "lenet5 fold \(1 - badFold)" }?.chips ?? -1), 19)

        // Listed with their errors: the CSV, the report's notes, the Markdown.
        let csv = try String(contentsOfFile: results + "/skipped-chips.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv.count, 3, "\(csv)")
        XCTAssertEqual(csv[0], "set,image_name,error")
        XCTAssertTrue(csv[1].hasPrefix("train,\(badTrain.name),") && csv[1].contains("truncated"), csv[1])
        XCTAssertTrue(csv[2].hasPrefix("test,\(badTest.name),") && csv[2].contains("truncated"), csv[2])
        XCTAssertTrue(report.notes.contains { $0.hasPrefix("skipped training chip \(badTrain.name): ") && $0.contains("truncated") }, "\(report.notes)")
        XCTAssertTrue(report.notes.contains { $0.hasPrefix("skipped test chip \(badTest.name): ") }, "\(report.notes)")
        XCTAssertTrue(report.notes.contains("1 test chips did not decode: their submission rows are empty (skipped-chips.csv):"), "\(report.notes)")
        let markdown = try String(contentsOfFile: results + "/report.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("skipped training chip \(badTrain.name)"))

        // The submission: the bad test chip's row is there, empty; every other row has tags.
        let submission = try Submission.read(results + "/submission.csv")
        XCTAssertEqual(submission.count, try LabelFile.readSampleSubmission(root + "/sample_submission_v2.csv").count)
        XCTAssertEqual(submission.first { $0.name == badTest.name }?.labels, LabelSet())
        XCTAssertEqual(submission.filter { $0.labels.isEmpty }.count, 1)
    }

    /// Issue 17, problem 7: a changed experiment that fails part-way through training must not leave the
    /// previous run's submission and report beside its new checkpoints; the next good run makes them again.
    func testAFailedRetrainLeavesNoStaleSubmissionOrReport() throws {
        let folder = Self.scratch + "canopy-cache-stale-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try copySample(into: folder)
        let results = folder + "/results"
        var settings = Settings()
        settings.twoModels = false
        try run(try config(root: root, settings), results: results)
        let finals = ["submission.csv", "report.html", "report.md", "report.csv", "metrics.json", "thresholds.json",
                      "predictions/ensemble-test.csv"]
        for file in finals { XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/" + file), file) }

        // The next experiment trains longer, and one of its training chips no longer decodes.
        let chip = try XCTUnwrap(try PlanetDataset.open(root: root, bands: .rgb).train[3].jpegPath)
        let original = try Data(contentsOf: URL(fileURLWithPath: chip))
        try original.prefix(original.count / 3).write(to: URL(fileURLWithPath: chip))
        settings.epochsB = 2
        XCTAssertThrowsError(try run(try config(root: root, settings), results: results))
        for file in finals { XCTAssertFalse(FileManager.default.fileExists(atPath: results + "/" + file), "\(file) left stale") }

        try original.write(to: URL(fileURLWithPath: chip))
        try run(try config(root: root, settings), results: results)
        for file in finals { XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/" + file), "\(file) made again") }
    }
}
