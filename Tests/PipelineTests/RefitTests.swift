import Evaluation
import Foundation
import Pipeline
import PlanetData
import Training
import XCTest

/// `folds.refit`: after the trained folds, one network on every training chip for the epochs the
/// folds chose, whose test table is the model's; the out-of-fold tables stay the folds'.
final class RefitTests: XCTestCase {
    func config(root: String, refit: Bool = true, tta: String = "none", epochs: Int = 3) throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: refit
            data: {root: \(root), input_size: 32, limit_test: 6}
            folds: {k: 3, seed: 3, train: [0, 1]\(refit ? ", refit: true" : "")}
            models:
              - {backbone: lenet5, epochs: \(epochs), batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, augmentation: none}
            tta: \(tta)
            outputs: {sample_chips: 2}
            """, file: "refit.yaml", defaultName: "refit")
    }

    func testTheRefitTrainsOnEveryChipForTheFoldsBestEpochsAndPredictsTheTestChips() throws {
        let folder = StageCacheTests.scratch + "canopy-refit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)
        let results = folder + "/results"
        struct Record: Decodable { var bestEpoch: Int; var history: [EpochRecord] }
        func record(_ unit: String) throws -> Record {
            try JSONDecoder().decode(Record.self, from: Data(contentsOf: URL(fileURLWithPath: results + "/models/lenet5/\(unit)/fold.json")))
        }

        var lines = try StageCacheTests.run(try config(root: root), results: results, source: "refit.yaml")
        let best = try [record("fold-0").bestEpoch, record("fold-1").bestEpoch]
        let chosen = max(1, Int((Double(best[0] + best[1]) / 2 + 0.5).rounded(.down)))
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 refit: training redone") && $0.contains("for \(chosen) epochs (the folds' best epochs: \(best[0]), \(best[1]))") },
                      "\(lines)")
        let refit = try record("refit")
        XCTAssertEqual(refit.history.count, chosen, "the refit trains the chosen epochs")
        XCTAssertEqual(refit.bestEpoch, chosen, "with no chip held out, the last epoch's weights are kept")
        XCTAssertTrue(refit.history.allSatisfy { $0.validationLoss.isNaN && $0.trainLoss.isFinite })
        let test = try ProbabilityTable.read(results + "/predictions/lenet5-test.csv")
        XCTAssertEqual(test, try ProbabilityTable.read(results + "/models/lenet5/refit/test.csv"), "the refit's test table is the model's")
        XCTAssertNotEqual(test, try ProbabilityTable.mean(of: [ProbabilityTable.read(results + "/models/lenet5/fold-0/test.csv"),
                                                               ProbabilityTable.read(results + "/models/lenet5/fold-1/test.csv")], context: "folds"))
        let split = try FoldAssignment.read(results + "/folds.csv", expectedFolds: 3)
        XCTAssertEqual(try ProbabilityTable.read(results + "/predictions/lenet5-oof.csv").names.sorted(),
                       split.foldOf.filter { $0.value < 2 }.keys.sorted(), "the out-of-fold table is still the folds'")
        let log = try String(contentsOfFile: results + "/train_log.csv", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").filter { $0.hasPrefix("lenet5,3,") }.count, chosen, "the refit's epochs are logged under fold 3")

        // A TTA change predicts again with the same refit weights.
        lines = try StageCacheTests.run(try config(root: root, tta: "flips"), results: results, source: "refit.yaml")
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 refit: training reused (\(chosen) epochs); predictions redone (tta changed: none -> flips)") },
                      "\(lines)")
        XCTAssertEqual(try record("refit").history.map(\.trainLoss), refit.history.map(\.trainLoss))

        // Without refit the model's test table is the folds' mean again; the folds are reused.
        lines = try StageCacheTests.run(try config(root: root, refit: false, tta: "flips"), results: results, source: "refit.yaml")
        XCTAssertFalse(lines.contains { $0.hasPrefix("lenet5 refit") }, "\(lines)")
        XCTAssertEqual(try ProbabilityTable.read(results + "/predictions/lenet5-test.csv"),
                       try ProbabilityTable.mean(of: [ProbabilityTable.read(results + "/models/lenet5/fold-0/test.csv"),
                                                      ProbabilityTable.read(results + "/models/lenet5/fold-1/test.csv")], context: "folds"))
    }

    func testRefitRefusesAScheduleThatFollowsTheValidationLoss() {
        let text = "data: {root: x}\nfolds: {refit: true}\nmodels:\n  - {backbone: lenet5, schedule: {kind: plateau}}\n"
        XCTAssertThrowsError(try PipelineConfig.parse(text, file: "p.yaml", defaultName: "p")) { error in
            XCTAssertEqual("\(error)", "p.yaml:4: models.0.schedule: plateau follows the validation loss, which a refit on every chip (folds.refit) does not have")
        }
        XCTAssertNoThrow(try PipelineConfig.parse("data: {root: x}\nfolds: {refit: false}\nmodels:\n  - {backbone: lenet5, schedule: {kind: plateau}}\n",
                                                  file: "p.yaml", defaultName: "p"))
    }
}
