import Foundation
import PlanetData
import Training
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
}
