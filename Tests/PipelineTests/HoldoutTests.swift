import Evaluation
import Foundation
import Pipeline
import PlanetData
import XCTest

/// `folds.train`: train some folds of the split, not all. The out-of-fold tables, thresholds and
/// metrics cover the trained folds' chips; the test table is the mean of the trained folds'; a fold
/// trained before is reused when more are asked for.
final class HoldoutTests: XCTestCase {
    func config(root: String, train: String) throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: holdout
            data: {root: \(root), input_size: 32, limit_test: 6}
            folds: {k: 3, seed: 3\(train)}
            models:
              - {backbone: lenet5, epochs: 1, batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, augmentation: none}
            tta: none
            outputs: {sample_chips: 2}
            """, file: "holdout.yaml", defaultName: "holdout")
    }

    func testTrainingSomeFoldsScoresTheirChipsAndReusesThemWhenMoreAreTrained() throws {
        let folder = StageCacheTests.scratch + "canopy-holdout-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)
        let results = folder + "/results"
        let fs = FileManager.default

        var lines = try StageCacheTests.run(try config(root: root, train: ", train: [1]"), results: results, source: "holdout.yaml")
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 fold 1: training redone") }, "\(lines)")
        XCTAssertFalse(lines.contains { $0.contains("fold 0") || $0.contains("fold 2") }, "\(lines)")
        XCTAssertFalse(fs.fileExists(atPath: results + "/models/lenet5/fold-0"))
        let split = try FoldAssignment.read(results + "/folds.csv", expectedFolds: 3)
        let heldOut = { (folds: Set<Int>) in split.foldOf.filter { folds.contains($0.value) }.keys.sorted() }
        var oof = try ProbabilityTable.read(results + "/predictions/lenet5-oof.csv")
        XCTAssertEqual(oof.names.sorted(), heldOut([1]), "the out-of-fold table holds fold 1's chips")
        XCTAssertEqual(try ProbabilityTable.read(results + "/predictions/lenet5-test.csv"),
                       try ProbabilityTable.read(results + "/models/lenet5/fold-1/test.csv"), "one fold's test table")
        let submission = try String(contentsOfFile: results + "/submission.csv", encoding: .utf8)
        XCTAssertEqual(submission.split(separator: "\n").count, 61, "every test chip in the submission")
        let report = try String(contentsOfFile: results + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("3 folds (seed 3), trained: 1, models:"), "the report says which folds")

        lines = try StageCacheTests.run(try config(root: root, train: ", train: [0, 1]"), results: results, source: "holdout.yaml")
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 fold 1: training reused") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 fold 0: training redone") }, "\(lines)")
        oof = try ProbabilityTable.read(results + "/predictions/lenet5-oof.csv")
        XCTAssertEqual(oof.names.sorted(), heldOut([0, 1]))

        // Every fold: the same split, so the trained folds are reused again.
        lines = try StageCacheTests.run(try config(root: root, train: ""), results: results, source: "holdout.yaml")
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 fold 0: training reused") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 fold 2: training redone") }, "\(lines)")
        XCTAssertEqual(try ProbabilityTable.read(results + "/predictions/lenet5-oof.csv").names.count, split.foldOf.count)
    }

    func testFoldsToTrainAreChecked() {
        func error(_ folds: String, ensemble: String = "") -> String {
            let text = "data: {root: x}\nfolds: \(folds)\nmodels: [{backbone: lenet5}, {backbone: resnet18}]\n\(ensemble)"
            do { _ = try PipelineConfig.parse(text, file: "p.yaml", defaultName: "p"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(error("{k: 3, train: [3]}"), "p.yaml:2: folds.train.0: 3 is out of range 0...2")
        XCTAssertEqual(error("{k: 3, train: [1, 1]}"), "p.yaml:2: folds.train.1: fold 1 is listed twice")
        XCTAssertEqual(error("{k: 3, train: []}"), "p.yaml:2: folds.train: at least one fold (or leave train out: every fold)")
        XCTAssertEqual(error("{k: 3, train: [0]}", ensemble: "ensemble: {method: ridge}\n"),
                       "p.yaml:4: ensemble.method: ridge stacks out of fold: it needs at least 2 trained folds (folds.train has 1)")
        XCTAssertEqual(error("{k: 3, train: [0]}", ensemble: "ensemble: {method: mean}\n"), "no error")
    }
}
