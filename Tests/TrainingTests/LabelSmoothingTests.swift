import Foundation
import NN
import PlanetData
import Tensor
@testable import Training
import XCTest

/// `loss: {label_smoothing: ε}` in the trainer: BCE is taken against y·(1 − ε) + ε/2, soft F2 against
/// the labels as they are.
final class LabelSmoothingTests: XCTestCase {
    /// The loss a spec makes, on a small batch, against the hand forms of `TrainerBehaviourTests`.
    func testTheSpecSmoothsBCEAndNotSoftF2() {
        let logits = Tensor(shape: [2, 3], scalars: [0, 2, -1, 1.5, -0.5, 3])
        let hard: [[Double]] = [[1, 0, 1], [0, 1, 0]], smoothed = hard.map { $0.map { $0 * 0.8 + 0.1 } }
        let targets = Tensor(shape: [2, 3], scalars: hard.flatMap { $0.map(Float.init) })
        let bce = TrainerBehaviourTests.handBCE(logits: logits, targets: smoothed, positiveWeights: [1, 1])
        let softF2 = TrainerBehaviourTests.handSoftF2(logits: logits, targets: hard)
        for (kind, expected) in [(LossSpec.Kind.bce, bce), (.bceAndSoftF2, (bce + softF2) / 2)] {
            let loss = LossSpec(kind: kind, labelSmoothing: 0.2).makeLoss(positiveWeights: nil)
            XCTAssertEqual(Double(loss.lossAndGradient(logits: logits, targets: targets).loss), expected, accuracy: 1e-6, "\(kind)")
        }
        let plain = TrainerBehaviourTests.handBCE(logits: logits, targets: hard, positiveWeights: [1, 1])
        XCTAssertGreaterThan(abs(bce - plain), 0.05, "premise: smoothing changes the loss")
    }

    /// A real run: the first epoch's training loss (one batch of 8 chips, taken before the step) is
    /// the fresh model's BCE against the smoothed labels, with `balanced` weights, computed by hand.
    func testTheTrainerTrainsOnSmoothedTargets() throws {
        let chips = try TrainerBehaviourTests.sampleChips()
        let train = Array(chips[0..<8]), validation = Array(chips[8..<12])
        let spec = ModelSpec(backbone: "lenet5", inputSize: 32, epochs: 1, batchSize: 8,
                             optimizer: OptimizerSpec(kind: .sgd, learningRate: 0.1, momentum: 0, nesterov: false, weightDecay: 0),
                             schedule: .constant, augmentation: .none,
                             loss: LossSpec(kind: .bce, positiveWeights: .balanced, labelSmoothing: 0.1), seed: 3)
        let model = try FoldTrainer.makeModel(spec, bands: 3, observer: nil)
        let predictor = Predictor(bands: .rgb, statistics: TrainerBehaviourTests.statistics, inputSize: 32, batchSize: 8, workers: 1)
        var logits: Tensor?
        _ = try predictor.predict(model, chips: train, tta: .none, eachBatch: { batchLogits, _ in logits = batchLogits })
        let weights = LossSpec.balancedPositiveWeights(train).map(Double.init)
        let smoothed = TrainerBehaviourTests.targets(train).map { $0.map { $0 * 0.9 + 0.05 } }
        let expected = TrainerBehaviourTests.handBCE(logits: try XCTUnwrap(logits), targets: smoothed, positiveWeights: weights)
        let unsmoothed = TrainerBehaviourTests.handBCE(logits: try XCTUnwrap(logits), targets: TrainerBehaviourTests.targets(train),
                                                       positiveWeights: weights)
        XCTAssertGreaterThan(abs(expected - unsmoothed), 1e-3, "premise: smoothing changes the loss")

        let folder = TestFolder()
        let trainer = FoldTrainer(spec: spec, fold: 0, folder: folder.path, train: train, validation: validation, bands: .rgb,
                                  statistics: TrainerBehaviourTests.statistics, fingerprint: "smoothing")
        let outcome = try trainer.run(observer: nil)
        XCTAssertEqual(outcome.history[0].trainLoss, expected, accuracy: 2e-6 * expected)
    }
}
