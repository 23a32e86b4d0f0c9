import Foundation
import PlanetData
@testable import Training
import XCTest

/// `progressive_resizing`: the first epochs at smaller inputs, then the model's `input_size`.
final class ProgressiveResizingTests: XCTestCase {
    func testEachEpochsSizeFollowsTheStagesThenTheModels() {
        let resizing = ProgressiveResizing(stages: [.init(epochs: 2, inputSize: 64), .init(epochs: 1, inputSize: 80)])
        XCTAssertEqual((0..<6).map { resizing.inputSize(epoch: $0, final: 96) }, [64, 64, 80, 96, 96, 96])
        XCTAssertEqual(resizing.stagedEpochs, 3)
    }

    /// The first epoch at 32 px of a 40 px model is exactly the first epoch of a 32 px model (same
    /// initial weights, batches, draws and rates); the second, at 40 px, is not.
    func testAStagedEpochTrainsAsAModelOfThatSize() throws {
        let chips = try TrainerBehaviourTests.sampleChips()
        let folder = NSTemporaryDirectory() + "canopy-resize-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func history(inputSize: Int, resizing: ProgressiveResizing?, _ name: String) throws -> [Double] {
            var spec = ModelSpec(backbone: "lenet5", inputSize: inputSize, epochs: 2, batchSize: 4,
                                 optimizer: OptimizerSpec(kind: .adam, learningRate: 0.002, momentum: 0, nesterov: false, weightDecay: 0),
                                 schedule: .cosine(warmupEpochs: 0), augmentation: .none, seed: 5)
            spec.progressiveResizing = resizing
            let trainer = FoldTrainer(spec: spec, fold: 0, folder: folder + "/" + name, train: Array(chips[..<16]), validation: Array(chips[16...]),
                                      bands: .rgb, statistics: TrainerBehaviourTests.statistics, fingerprint: name)
            return try trainer.run(observer: nil).history.map(\.trainLoss)
        }
        let small = try history(inputSize: 32, resizing: nil, "small")
        let staged = try history(inputSize: 40, resizing: ProgressiveResizing(stages: [.init(epochs: 1, inputSize: 32)]), "staged")
        let large = try history(inputSize: 40, resizing: nil, "large")
        XCTAssertEqual(staged[0], small[0], "epoch 1 at 32 px")
        XCTAssertNotEqual(staged[0], large[0])
        XCTAssertNotEqual(staged[1], small[1], "epoch 2 at 40 px")
        XCTAssertEqual(try history(inputSize: 40, resizing: ProgressiveResizing(stages: [.init(epochs: 1, inputSize: 32)]), "again"), staged,
                       "fixed seed, same losses")
    }

    /// A staged epoch is validated at the size it trained at (the 32 px model's first validation is
    /// the staged one's), and the best epoch is taken at the model's size: an epoch validated at a
    /// smaller size never beats one at the model's, whatever its F2.
    func testStagedEpochsValidateAtTheirSizeAndTheBestIsAtTheModelsSize() throws {
        let chips = try TrainerBehaviourTests.sampleChips()
        let folder = NSTemporaryDirectory() + "canopy-resize-best-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func trainer(inputSize: Int, resizing: ProgressiveResizing?, epochs: Int = 2, _ name: String) -> FoldTrainer {
            var spec = ModelSpec(backbone: "lenet5", inputSize: inputSize, epochs: epochs, batchSize: 4,
                                 optimizer: OptimizerSpec(kind: .adam, learningRate: 0.002, momentum: 0, nesterov: false, weightDecay: 0),
                                 schedule: .cosine(warmupEpochs: 0), augmentation: .none, seed: 5)
            spec.progressiveResizing = resizing
            return FoldTrainer(spec: spec, fold: 0, folder: folder + "/" + name, train: Array(chips[..<16]), validation: Array(chips[16...]),
                               bands: .rgb, statistics: TrainerBehaviourTests.statistics, fingerprint: name)
        }
        let small = try trainer(inputSize: 32, resizing: nil, "small").run(observer: nil)
        let staged = try trainer(inputSize: 40, resizing: ProgressiveResizing(stages: [.init(epochs: 1, inputSize: 32)]), "staged").run(observer: nil)
        XCTAssertEqual(staged.history[0].validationLoss, small.history[0].validationLoss, "epoch 1 validated at 32 px")
        XCTAssertEqual(staged.history[0].validationMeanF2, small.history[0].validationMeanF2)
        XCTAssertEqual(staged.bestEpoch, 2, "the only epoch at 40 px")

        let rule = trainer(inputSize: 96, resizing: ProgressiveResizing(stages: [.init(epochs: 2, inputSize: 64)]), epochs: 4, "rule")
        func record(_ epoch: Int, _ f2: Double) -> EpochRecord {
            EpochRecord(epoch: epoch, trainLoss: 0.3, validationLoss: 0.2, validationMeanF2: f2, validationThreshold: 0.2,
                        learningRate: 1e-3, seconds: 1, loaderWaitSeconds: 0, imagesPerSecond: 1)
        }
        XCTAssertTrue(rule.isBetter(record(3, 0.5), than: record(2, 0.9)), "96 px beats 64 px")
        XCTAssertFalse(rule.isBetter(record(2, 0.99), than: record(3, 0.5)), "64 px never beats 96 px")
        XCTAssertTrue(rule.isBetter(record(2, 0.9), than: record(1, 0.8)), "between smaller sizes: the F2")
        XCTAssertFalse(rule.isBetter(record(4, 0.7), than: record(3, 0.8)), "at the model's size: the F2")
        XCTAssertTrue(rule.isBetter(record(4, 0.9), than: record(3, 0.8)))
    }
}
