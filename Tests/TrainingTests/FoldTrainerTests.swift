import Foundation
import NN
import PlanetData
import Tensor
import Training
import XCTest

final class FoldTrainerTests: XCTestCase {
    static let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("datasets/planet-sample").path

    func makeTrainer(folder: String, epochs: Int) throws -> FoldTrainer {
        let dataset = try PlanetDataset.open(root: Self.sample, bands: .rgb)
        let statistics = NormalizationStatistics(bands: .rgb, mean: [0.33, 0.36, 0.32], std: [0.18, 0.16, 0.16], chips: 20)
        let spec = ModelSpec(backbone: "lenet5", inputSize: 32, epochs: epochs, batchSize: 4,
                             optimizer: OptimizerSpec(kind: .sgd, learningRate: 0.05), schedule: .cosine(warmupEpochs: 1),
                             augmentation: .planetDefault, seed: 3)
        return FoldTrainer(spec: spec, fold: 0, folder: folder, train: Array(dataset.train.prefix(14)),
                           validation: Array(dataset.train.suffix(6)), bands: .rgb, statistics: statistics, fingerprint: "test")
    }

    /// Stopping after each epoch and starting again gives the same weights, bit for bit, and the same
    /// history as a run that never stopped.
    func testAResumedRunEqualsAnUninterruptedOne() throws {
        let whole = TestFolder(), pieces = TestFolder()
        let uninterrupted = try makeTrainer(folder: whole.path, epochs: 3).run(observer: nil)
        XCTAssertEqual(uninterrupted.history.count, 3)
        XCTAssertTrue(uninterrupted.history.allSatisfy { $0.trainLoss.isFinite && $0.validationLoss.isFinite })
        for call in 1...3 {
            let trainer = try makeTrainer(folder: pieces.path, epochs: 3)
            trainer.epochsThisCall = 1
            XCTAssertEqual(try trainer.run(observer: nil).history.count, call)
        }
        let resumed = try makeTrainer(folder: pieces.path, epochs: 3).run(observer: nil)
        XCTAssertEqual(resumed.history.map(\.trainLoss), uninterrupted.history.map(\.trainLoss))
        XCTAssertEqual(resumed.history.map(\.validationMeanF2), uninterrupted.history.map(\.validationMeanF2))
        XCTAssertEqual(resumed.bestEpoch, uninterrupted.bestEpoch)
        for file in ["last.safetensors", "best.safetensors"] {
            let a = try SafeTensorsFile.read(whole.path + "/" + file), b = try SafeTensorsFile.read(pieces.path + "/" + file)
            XCTAssertEqual(a.tensors, b.tensors, file)
        }
        // A state written for another spec is not resumed from.
        let other = try makeTrainer(folder: pieces.path, epochs: 3)
        other.fingerprint = "another"
        other.epochsThisCall = 1
        XCTAssertEqual(try other.run(observer: nil).history.count, 1)
    }

    func testADivergingLossStopsWithEpochAndBatchNamed() throws {
        let folder = TestFolder()
        let trainer = try makeTrainer(folder: folder.path, epochs: 1)
        var spec = trainer.spec
        spec.optimizer.learningRate = 1e30
        spec.schedule = .constant
        let diverging = FoldTrainer(spec: spec, fold: 0, folder: folder.path, train: trainer.train, validation: trainer.validation,
                                    bands: .rgb, statistics: trainer.statistics, fingerprint: "x")
        XCTAssertThrowsError(try diverging.run(observer: nil)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("lenet5 fold 0:") && text.contains("at epoch 1, batch 2"), text)
            XCTAssertTrue(text.contains("is not finite") || text.contains("the loss became"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: diverging.bestPath), "no model written")

        // Skipping bad batches goes on, but never writes a model whose weights are not finite.
        spec.onNonFinite = .skipBatch
        let skipping = FoldTrainer(spec: spec, fold: 0, folder: folder.path + "/skip", train: trainer.train, validation: trainer.validation,
                                   bands: .rgb, statistics: trainer.statistics, fingerprint: "y")
        XCTAssertThrowsError(try skipping.run(observer: nil)) { error in
            XCTAssertTrue("\(error)".contains("batches skipped") && "\(error)".hasSuffix("not writing a checkpoint"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: skipping.bestPath))
    }
}

/// A temporary folder removed when the test object goes away.
final class TestFolder {
    let path = NSTemporaryDirectory() + "canopy-training-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    init() { try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
