import Foundation
@testable import Pipeline
import XCTest

/// `budget_minutes`: each model's epochs sized from measured rates so the run fits its budget.
final class TimeBudgetTests: XCTestCase {
    func work(_ name: String, most: Int, secondsPerChip: Double, chipsPerEpoch: Double, predictionChips: Double) -> TimeBudget.ModelWork {
        TimeBudget.ModelWork(name: name, settings: "", mostEpochs: most, secondsPerChip: secondsPerChip, chipsPerEpoch: chipsPerEpoch,
                             predictionChips: predictionChips, epochs: most)
    }

    func testOneFactorScalesEveryModelsMostEpochsToFitWhatIsLeftAfterPredictions() {
        // a: 0.01 s × 1000 chips = 10 s an epoch, 20 epochs = 200 s, predictions 0.01 × 500 = 5 s.
        // b: 0.02 s × 1000 chips = 20 s an epoch, 10 epochs = 200 s, predictions 0.02 × 250 = 5 s.
        let models = [work("a", most: 20, secondsPerChip: 0.01, chipsPerEpoch: 1000, predictionChips: 500),
                      work("b", most: 10, secondsPerChip: 0.02, chipsPerEpoch: 1000, predictionChips: 250)]
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 410, models: models), [20, 10], "everything fits: the most epochs")
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 1e6, models: models), [20, 10], "never more than the most")
        // (210 − 10) / 400 = 0.5: a 10 of 20, b 5 of 10.
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 210, models: models), [10, 5])
        // (110 − 10) / 400 = 0.25: a 5, b 2 (⌊2.5⌋).
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 110, models: models), [5, 2])
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 5, models: models), [1, 1], "at least one epoch each, even over budget")
    }

    func config(root: String, budget: String, epochs: Int = 300) throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: budget
            data: {root: \(root), input_size: 32, limit_test: 6}
            folds: {k: 3, seed: 3, train: [0]}
            models:
              - {backbone: lenet5, epochs: \(epochs), batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, augmentation: none}
            tta: none
            outputs: {sample_chips: 2}
            \(budget)
            """, file: "budget.yaml", defaultName: "budget")
    }

    func testABudgetTooSmallTrainsOneEpochAndARerunKeepsTheDecision() throws {
        let folder = StageCacheTests.scratch + "canopy-budget-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)
        let results = folder + "/results"

        _ = try StageCacheTests.run(try config(root: root, budget: "budget_minutes: 0.1"), results: results, source: "budget.yaml")
        let record = try JSONDecoder().decode(TimeBudget.Record.self, from: Data(contentsOf: URL(fileURLWithPath: results + "/budget.json")))
        XCTAssertEqual(record.budgetMinutes, 0.1)
        XCTAssertEqual(record.models.map(\.mostEpochs), [300])
        let epochs = record.models[0].epochs
        XCTAssertGreaterThan(record.models[0].secondsPerChip, 0)
        // 300 epochs of 26 chips at a measured rate: more than 6 s on any machine, so fewer are trained.
        XCTAssertTrue((1..<300).contains(epochs), "\(epochs) epochs")
        let log = try String(contentsOfFile: results + "/train_log.csv", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 1 + epochs, "the epochs decided are the epochs trained")

        // The same budget again: the decision and the trained fold are reused, nothing is measured.
        var lines = try StageCacheTests.run(try config(root: root, budget: "budget_minutes: 0.1"), results: results, source: "budget.yaml")
        XCTAssertTrue(lines.contains("train: up to date (1 model folds: training and predictions reused)"), "\(lines)")

        // A budget that holds the most epochs trains them all (here 2).
        lines = try StageCacheTests.run(try config(root: root, budget: "budget_minutes: 600", epochs: 2), results: results, source: "budget.yaml")
        let again = try JSONDecoder().decode(TimeBudget.Record.self, from: Data(contentsOf: URL(fileURLWithPath: results + "/budget.json")))
        XCTAssertEqual(again.models.map(\.epochs), [2])
        XCTAssertTrue(lines.contains { $0.hasPrefix("lenet5 fold 0: training redone (models.epochs changed") }, "\(lines)")
    }

    func testTheBudgetIsChecked() {
        XCTAssertThrowsError(try PipelineConfig.parse("data: {root: x}\nmodels: [{backbone: lenet5}]\nbudget_minutes: 0\n",
                                                      file: "p.yaml", defaultName: "p")) { error in
            XCTAssertEqual("\(error)", "p.yaml:3: budget_minutes: 0.0 is out of range 0.1...100000.0")
        }
    }
}
