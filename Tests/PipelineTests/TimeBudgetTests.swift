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

    func testProgressiveResizingStagesAreCountedAtTheirOwnRatesAndKeptWhole() {
        // 36 epochs: 16 at a small size (0.005 s a chip: 5 s an epoch), 8 at a middle one (10 s), 12 at
        // the model's size (16 s); predictions 0.016 × 500 = 8 s. All of it: 80 + 80 + 192 + 8 = 360 s.
        var model = work("a", most: 36, secondsPerChip: 0.016, chipsPerEpoch: 1000, predictionChips: 500)
        model.stages = [.init(inputSize: 64, epochs: 16, secondsPerChip: 0.005), .init(inputSize: 96, epochs: 8, secondsPerChip: 0.01)]
        XCTAssertEqual(model.trainingSeconds(epochs: 36), 352, accuracy: 1e-9)
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 360, models: [model]), [36])
        // The stages and predictions take 168 s; (264 − 168) / 192 = 0.5 of the 12 epochs at the
        // model's size. (Counted at the model's rate, 36 epochs would be 584 s and s = 0.44: 15 epochs,
        // fewer than the stages alone.)
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 264, models: [model]), [30])
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 100, models: [model]), [25], "the stages whole and one epoch after them, even over budget")
        // Beside a model without stages, one factor for the epochs at each model's size.
        let other = work("b", most: 10, secondsPerChip: 0.0192, chipsPerEpoch: 1000, predictionChips: 0)
        XCTAssertEqual(TimeBudget.plan(availableSeconds: 264 + 96, models: [model, other]), [30, 5])
    }

    func config(root: String, budget: String, epochs: Int = 300, inputSize: Int = 32, modelExtra: String = "") throws -> PipelineConfig {
        try PipelineConfig.parse("""
            name: budget
            data: {root: \(root), input_size: \(inputSize), limit_test: 6}
            folds: {k: 3, seed: 3, train: [0]}
            models:
              - {backbone: lenet5, epochs: \(epochs), batch_size: 5, optimizer: {kind: adam, learning_rate: 0.002}, augmentation: none\(modelExtra)}
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

    func testARunWithProgressiveResizingMeasuresEachStageAndTrainsThemWhole() throws {
        let folder = StageCacheTests.scratch + "canopy-budget-stages-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let root = try StageCacheTests.copySample(into: folder)
        let results = folder + "/results"
        let config = try config(root: root, budget: "budget_minutes: 0.1", inputSize: 40,
                                modelExtra: ", progressive_resizing: [{epochs: 3, input_size: 32}]")
        _ = try StageCacheTests.run(config, results: results, source: "budget.yaml")
        let record = try JSONDecoder().decode(TimeBudget.Record.self, from: Data(contentsOf: URL(fileURLWithPath: results + "/budget.json")))
        let model = try XCTUnwrap(record.models.first)
        XCTAssertEqual(model.stages.map(\.inputSize), [32])
        XCTAssertEqual(model.stages.map(\.epochs), [3])
        XCTAssertGreaterThan(model.stages[0].secondsPerChip, 0)
        XCTAssertGreaterThan(model.secondsPerChip, 0)
        // 300 epochs do not fit 6 s; the stage's 3 and at least one at 40 px are trained.
        XCTAssertTrue((4..<300).contains(model.epochs), "\(model.epochs) epochs")
        let log = try String(contentsOfFile: results + "/train_log.csv", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 1 + model.epochs, "the epochs decided are the epochs trained")
    }

    func testTheBudgetIsChecked() {
        XCTAssertThrowsError(try PipelineConfig.parse("data: {root: x}\nmodels: [{backbone: lenet5}]\nbudget_minutes: 0\n",
                                                      file: "p.yaml", defaultName: "p")) { error in
            XCTAssertEqual("\(error)", "p.yaml:3: budget_minutes: 0.0 is out of range 0.1...100000.0")
        }
    }
}
