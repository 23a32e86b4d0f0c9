import Foundation
import NN
import PlanetData
import Tensor
@testable import Training
import XCTest

/// The trainer's documented behaviour (pipeline keys `loss`, `early_stopping`, `clip_gradient_norm`,
/// `schedule`), each checked against a value computed independently: by hand in the test (Double
/// arithmetic, written differently from the engine's), or by PyTorch through
/// `Tests/TrainingTests/Fixtures/make_trainer_reference.py`, whose printed numbers are pasted below
/// as literals (the tests never run Python).
///
/// Training runs use LeNet-5 at 32 px on a few chips of `datasets/planet-sample`, no augmentation,
/// plain SGD (no momentum, no weight decay): a step is θ ← θ − lr·∇.
final class TrainerBehaviourTests: XCTestCase {
    static let statistics = NormalizationStatistics(bands: .rgb, mean: [0.33, 0.36, 0.32], std: [0.18, 0.16, 0.16], chips: 20)

    static func sampleChips() throws -> [DatasetChip] {
        let chips = try PlanetDataset.open(root: FoldTrainerTests.sample, bands: .rgb).train
        XCTAssertEqual(chips.count, 20)
        return chips
    }

    func makeSpec(epochs: Int, batchSize: Int, learningRate: Float, schedule: ScheduleSpec = .constant,
                  loss: LossSpec = LossSpec(), earlyStopping: EarlyStopping? = nil, clip: Float? = nil) -> ModelSpec {
        ModelSpec(backbone: "lenet5", inputSize: 32, epochs: epochs, batchSize: batchSize,
                  optimizer: OptimizerSpec(kind: .sgd, learningRate: learningRate, momentum: 0, nesterov: false, weightDecay: 0),
                  schedule: schedule, augmentation: .none, loss: loss, earlyStopping: earlyStopping, clipGradientNorm: clip, seed: 3)
    }

    func makeTrainer(_ spec: ModelSpec, folder: String, train: [DatasetChip], validation: [DatasetChip],
                     epochsThisCall: Int? = nil) -> FoldTrainer {
        let trainer = FoldTrainer(spec: spec, fold: 0, folder: folder, train: train, validation: validation, bands: .rgb,
                                  statistics: Self.statistics, fingerprint: "behaviour")
        trainer.epochsThisCall = epochsThisCall
        return trainer
    }

    func weights(_ path: String) throws -> [String: Tensor] {
        try SafeTensorsFile.read(path).tensors.mapValues(\.tensor)
    }

    /// Logits [17, n] of `model` for `chips`, in `chips` order, no augmentation (what a training batch
    /// holding exactly these chips gives, up to their order).
    func logits(_ model: Layer, _ chips: [DatasetChip]) throws -> Tensor {
        let predictor = Predictor(bands: .rgb, statistics: Self.statistics, inputSize: 32, batchSize: chips.count, workers: 1)
        var result: Tensor?
        _ = try predictor.predict(model, chips: chips, tta: .none, eachBatch: { logits, batch in
            XCTAssertEqual(batch.chipIndices, Array(chips.indices))
            result = logits
        })
        return try XCTUnwrap(result)
    }

    // MARK: - Hand formulas (Double), written independently of Sources/NN/Losses

    static func softplus(_ z: Double) -> Double { log1p(exp(-abs(z))) + max(z, 0) }

    /// torch BCEWithLogitsLoss(pos_weight): mean over labels and images of
    /// −[p·y·log σ(x) + (1 − y)·log(1 − σ(x))] = p·y·softplus(−x) + (1 − y)·softplus(x).
    static func handBCE(logits: Tensor, targets: [[Double]], positiveWeights: [Double]) -> Double {
        let labels = logits.shape[0], n = logits.shape[1]
        var sum = 0.0
        for l in 0..<labels {
            for i in 0..<n {
                let x = Double(logits.scalars[l * n + i]), y = targets[l][i]
                sum += positiveWeights[l] * y * softplus(-x) + (1 - y) * softplus(x)
            }
        }
        return sum / Double(labels * n)
    }

    /// 1 − mean over images of 5·tp / (5·tp + 4·fn + fp + 1e-7) on σ(logits).
    static func handSoftF2(logits: Tensor, targets: [[Double]]) -> Double {
        let labels = logits.shape[0], n = logits.shape[1]
        var f2Sum = 0.0
        for i in 0..<n {
            var tp = 0.0, fp = 0.0, fn = 0.0
            for l in 0..<labels {
                let s = 1 / (1 + exp(-Double(logits.scalars[l * n + i]))), y = targets[l][i]
                tp += s * y
                fp += s * (1 - y)
                fn += (1 - s) * y
            }
            f2Sum += 5 * tp / (5 * tp + 4 * fn + fp + 1e-7)
        }
        return 1 - f2Sum / Double(n)
    }

    static func targets(_ chips: [DatasetChip]) -> [[Double]] {
        (0..<PlanetLabels.count).map { l in chips.map { $0.labels!.contains(l) ? 1 : 0 } }
    }

    func assertClose(_ actual: [Float], _ expected: [Double], relative: Double, absolute: Double = 0,
                     _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() where abs(Double(a) - e) > relative * abs(e) + absolute {
            XCTFail("\(message)[\(i)]: \(a), expected \(e)", file: file, line: line)
        }
    }

    // MARK: - 1. Early stopping keeps and restores the best epoch's weights

    /// The first two epochs descend the loss (lr +0.1), the next two ascend it (a step schedule with
    /// gamma −1 makes lr −0.1: gradient ascent), so the validation loss (validation = training chips)
    /// is lowest after epoch 2, and patience 2 stops after epoch 4. best.safetensors must be the
    /// weights after epoch 2 exactly: those of a run stopped after epoch 2, and a model loaded from it
    /// (as the pipeline's predictions load it) must score the best epoch's recorded validation loss.
    func testEarlyStoppingKeepsTheBestEpochsWeights() throws {
        let chips = Array(try Self.sampleChips().prefix(8))
        let spec = makeSpec(epochs: 10, batchSize: 4, learningRate: 0.1, schedule: .step(everyEpochs: 2, gamma: -1),
                            earlyStopping: EarlyStopping(metric: .loss, patience: 2))
        let whole = TestFolder(), toBest = TestFolder(), pieces = TestFolder()
        let outcome = try makeTrainer(spec, folder: whole.path, train: chips, validation: chips).run(observer: nil)

        let losses = outcome.history.map(\.validationLoss)
        XCTAssertEqual(outcome.history.map(\.learningRate), [0.1, 0.1, -0.1, -0.1], "the constructed schedule")
        // The best epoch is the (first) lowest validation loss, read off the history here.
        let argmin = losses.indices.min { losses[$0] < losses[$1] }! + 1
        XCTAssertEqual(argmin, 2, "premise: descent for 2 epochs, then ascent: \(losses)")
        XCTAssertEqual(outcome.bestEpoch, argmin)
        XCTAssertTrue(outcome.stoppedEarly)
        XCTAssertEqual(outcome.history.count, argmin + 2, "patience 2: stops 2 epochs after the best")

        // The weights after the best epoch, from a run that stops there.
        let stopped = try makeTrainer(spec, folder: toBest.path, train: chips, validation: chips, epochsThisCall: argmin).run(observer: nil)
        XCTAssertEqual(stopped.history.count, argmin)
        let best = try weights(whole.path + "/best.safetensors"), last = try weights(whole.path + "/last.safetensors")
        XCTAssertEqual(best, try weights(toBest.path + "/last.safetensors"), "best.safetensors = the weights after epoch \(argmin)")
        XCTAssertNotEqual(best, last, "training went on after the best epoch")

        // The model predictions use (the pipeline loads best.safetensors into a fresh network) scores
        // the best epoch's validation loss; recomputed here by hand from its logits.
        let network = try FoldTrainer.makeModel(spec, bands: 3, observer: nil)
        try Checkpoint.load(into: network, from: whole.path + "/best.safetensors")
        let bestLoss = Self.handBCE(logits: try logits(network, chips), targets: Self.targets(chips),
                                    positiveWeights: [Double](repeating: 1, count: 17))
        XCTAssertEqual(bestLoss, losses[argmin - 1], accuracy: 1e-6 * losses[argmin - 1])
        XCTAssertLessThan(bestLoss, losses.last! - 1e-4, "and it is not the last epoch's model")

        // Stopped after epoch 3 (one epoch into the patience) and resumed: the early-stopping state
        // comes back, so it stops after epoch 4 with the same best epoch and weights.
        let first = try makeTrainer(spec, folder: pieces.path, train: chips, validation: chips, epochsThisCall: 3).run(observer: nil)
        XCTAssertEqual(first.history.count, 3)
        XCTAssertFalse(first.stoppedEarly)
        let resumed = try makeTrainer(spec, folder: pieces.path, train: chips, validation: chips).run(observer: nil)
        XCTAssertEqual(resumed, FoldOutcome(history: resumed.history, bestEpoch: argmin, stoppedEarly: true))
        XCTAssertEqual(resumed.history.map(\.validationLoss), losses)
        XCTAssertEqual(try weights(pieces.path + "/best.safetensors"), best)
    }

    /// With the default metric (validation F2), the best epoch is the first with the highest F2
    /// (a tie is no improvement), whatever the loss does, and best.safetensors holds its weights.
    /// Here (lr 0.5, descent for 3 epochs, then ascent) F2 rises at epoch 2 and ties it at epochs 3
    /// and 4, while the validation loss is lowest at epoch 3: patience 2 stops after epoch 4, best 2.
    func testEarlyStoppingOnF2KeepsTheFirstBestEpoch() throws {
        let chips = Array(try Self.sampleChips().prefix(8))
        let spec = makeSpec(epochs: 8, batchSize: 4, learningRate: 0.5, schedule: .step(everyEpochs: 3, gamma: -1),
                            earlyStopping: EarlyStopping(metric: .f2, patience: 2))
        let whole = TestFolder(), toBest = TestFolder()
        let outcome = try makeTrainer(spec, folder: whole.path, train: chips, validation: chips).run(observer: nil)
        let f2 = outcome.history.map(\.validationMeanF2), losses = outcome.history.map(\.validationLoss)
        let firstBest = f2.firstIndex(of: f2.max()!)! + 1
        let lowestLoss = losses.indices.min { losses[$0] < losses[$1] }! + 1
        XCTAssertEqual(firstBest, 2, "premise: \(f2)")
        XCTAssertEqual(f2[2], f2[1], "premise: epoch 3 ties epoch 2")
        XCTAssertNotEqual(lowestLoss, firstBest, "premise: the loss would pick another epoch: \(losses)")
        XCTAssertEqual(outcome.bestEpoch, firstBest)
        XCTAssertTrue(outcome.stoppedEarly)
        XCTAssertEqual(outcome.history.count, firstBest + 2)
        _ = try makeTrainer(spec, folder: toBest.path, train: chips, validation: chips, epochsThisCall: firstBest).run(observer: nil)
        XCTAssertEqual(try weights(whole.path + "/best.safetensors"), try weights(toBest.path + "/last.safetensors"))
        XCTAssertNotEqual(try weights(whole.path + "/best.safetensors"), try weights(whole.path + "/last.safetensors"))
    }

    // MARK: - 2. positive_weights: balanced, and weighted BCE against torch

    /// √(negatives / positives) per label over the training chips, at most 10, computed by hand.
    /// What the code does beyond the README: a weight is never below 1 (a label on more than half the
    /// chips gets 1, not √(neg/pos) < 1), and a label with no positive gets √(chips / 1), capped at 10
    /// (it has no effect on the loss: a weight only multiplies positive targets' terms).
    func testBalancedPositiveWeightsByHand() throws {
        let template = try Self.sampleChips()[0]
        func chips(_ labels: [[Int]]) -> [DatasetChip] {
            labels.map { var chip = template; chip.labels = LabelSet(indices: $0); return chip }
        }
        // 8 chips. Positives per label: 0: none, 1: 1, 2: 2, 3: 4, 4: 6, 5: 8 (all), 6...16: none.
        let small = chips([[1, 2, 3, 4, 5], [2, 3, 4, 5], [3, 4, 5], [3, 4, 5], [4, 5], [4, 5], [5], [5]])
        let weights = LossSpec.balancedPositiveWeights(small)
        let expected: [Float] = [
            2.8284271,  // no positive: √(8/1) = √8
            2.6457513,  // √(7/1)
            1.7320508,  // √(6/2) = √3
            1,          // √(4/4)
            1,          // √(2/6) = 0.577, raised to 1
            1,          // √(0/8) = 0, raised to 1
        ] + [Float](repeating: 2.8284271, count: 11)
        XCTAssertEqual(weights.count, 17)
        for (l, (w, e)) in zip(weights, expected).enumerated() { XCTAssertEqual(w, e, accuracy: 1e-6, "label \(l)") }

        // 150 chips: 1 positive (√149 = 12.2) and none (√150) are capped at 10; 2 positives give √74.
        var many = chips([[0], [1], [1]])
        many += chips([[Int]](repeating: [16], count: 147))
        let capped = LossSpec.balancedPositiveWeights(many)
        XCTAssertEqual(capped[0], 10)
        XCTAssertEqual(capped[1], 8.6023253, accuracy: 1e-6)  // √(148/2)
        XCTAssertEqual(capped[2], 10)
        XCTAssertEqual(capped[16], 1)  // 147 positives, 3 negatives
    }

    /// BinaryCrossEntropy (with and without pos_weight) against torch.nn.BCEWithLogitsLoss on
    /// fixed logits, loss and gradient. Numbers: make_trainer_reference.py.
    func testWeightedBCEMatchesTorch() {
        let (logits, targets) = Self.referenceBatch()
        let plain = BinaryCrossEntropy().lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(plain.loss), 3.8802370282084153, accuracy: 1e-6 * 3.88)
        assertClose(plain.gradient.scalars, [
            -0.004768116880884707, 0.007297020952254254, -0.017512939964568076, 0.04, 0.004768116880884702,
            0.0018970349271026712, -0.015101626751925817, 0.01283285203298428, -0.008908005553012356, 0.029242343145200196,
            -0.02, -0.0004394777052237275, 0.0038139785959643794, -0.04, 0.024898373248074184,
            0.034078112078732424, 0.015101626751925817, -0.0018970349271026654, 9.890492626539097e-05, 0.017512939964568076,
            -0.029242343145200196, 0.036965672799150265, 0.02716714796701572, -0.018751625065049748, 0.038102965072897337,
        ], relative: 1e-5, absolute: 1e-9, "BCE gradient")

        let weighted = BinaryCrossEntropy(positiveWeights: Self.referencePositiveWeights).lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(weighted.loss), 5.12349747201204, accuracy: 1e-6 * 5.12)
        assertClose(weighted.gradient.scalars, Self.torchWeightedBCEGradient, relative: 1e-5, absolute: 1e-9, "weighted BCE gradient")
    }

    static let torchWeightedBCEGradient: [Double] = [
        -0.004768116880884707, 0.007297020952254254, -0.017512939964568076, 0.04, 0.004768116880884702,
        0.0018970349271026712, -0.03775406687981454, 0.01283285203298428, -0.022270013882530897, 0.029242343145200196,
        -0.035, -0.0007690859841415243, 0.0038139785959643794, -0.07, 0.024898373248074184,
        0.034078112078732424, 0.015101626751925817, -0.018970349271026664, 9.890492626539097e-05, 0.017512939964568076,
        -0.014621171572600098, 0.036965672799150265, 0.02716714796701572, -0.009375812532524874, 0.038102965072897337,
    ]

    /// 5 labels x 5 images, label-major (make_trainer_reference.py's `logits` and `targets`): ±40
    /// checks the stable form, image 4 has no positive label.
    static func referenceBatch() -> (logits: Tensor, targets: Tensor) {
        (Tensor(shape: [5, 5], scalars: [2.0, -1.5, 0.25, 40.0, -2.0, -3.0, 0.5, -0.75, 1.25, 1.0, 0.0, 4.5, -2.25, -40.0, 0.5,
                                         1.75, -0.5, 3.0, -6.0, -0.25, -1.0, 2.5, 0.75, 0.125, 3.0]),
         Tensor(shape: [5, 5], scalars: [1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]))
    }

    static let referencePositiveWeights: [Float] = [1.0, 2.5, 1.75, 10.0, 0.5]

    // MARK: - 3. soft_f2 and bce+soft_f2 against torch

    /// The soft-F2 loss value and gradient, and `bce+soft_f2` as the trainer computes it (the mean of
    /// the weighted BCE and the soft F2, and of their gradients), against torch autograd of the
    /// documented formulas. Numbers: make_trainer_reference.py.
    func testSoftF2AndMixedLossMatchTorch() throws {
        let (logits, targets) = Self.referenceBatch()
        let softF2Gradient: [Double] = [
            -0.00639820679883664, 0.00195225137754676, -0.01988621729810504, 0.0, 0.0,
            0.0003520918215336483, -0.01810385911394483, 0.0029319018217394354, -0.010989961244117717, 0.0,
            -0.015234756424040907, -0.0008370961043465206, 0.001160649999729227, -2.697166810237363e-19, 0.0,
            0.0009830091226113872, 0.0030760793468812505, -0.0036500140988976206, 1.5758710575527398e-05, 0.0,
            -0.01198133965197507, 0.000917622077471852, 0.0029319018217394354, -0.015809994984696204, 0.0,
        ]
        let soft = SoftF2().lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(soft.loss), 0.5071746197202985, accuracy: 1e-6)
        assertClose(soft.gradient.scalars, softF2Gradient, relative: 1e-4, absolute: 1e-9, "soft F2 gradient")

        // Through the loss the trainer builds from its spec (LossSpec.makeLoss).
        let viaTrainer = LossSpec(kind: .softF2).makeLoss(positiveWeights: nil).lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(viaTrainer.0), 0.5071746197202985, accuracy: 1e-6)
        assertClose(viaTrainer.1.scalars, softF2Gradient, relative: 1e-4, absolute: 1e-9, "soft F2 gradient (trainer)")

        let mixed = LossSpec(kind: .bceAndSoftF2).makeLoss(positiveWeights: Self.referencePositiveWeights).lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(mixed.0), 2.815336045866169, accuracy: 1e-6 * 2.8)
        assertClose(mixed.1.scalars, [
            -0.005583161839860674, 0.004624636164900507, -0.018699578631336557, 0.02, 0.002384058440442351,
            0.0011245633743181597, -0.027928962996879685, 0.007882376927361857, -0.016629987563324306, 0.014621171572600098,
            -0.025117378212020456, -0.0008030910442440224, 0.0024873142978468032, -0.035, 0.012449186624037092,
            0.017530560600671905, 0.009088853049403534, -0.011310181684962142, 5.733181842045918e-05, 0.008756469982284038,
            -0.013301255612287583, 0.01894164743831106, 0.015049524894377577, -0.012592903758610538, 0.019051482536448668,
        ], relative: 1e-4, absolute: 1e-9, "bce+soft_f2 gradient")

        let bce = LossSpec(kind: .bce).makeLoss(positiveWeights: Self.referencePositiveWeights).lossAndGradient(logits: logits, targets: targets)
        XCTAssertEqual(Double(bce.0), 5.12349747201204, accuracy: 1e-6 * 5.12)
        assertClose(bce.1.scalars, Self.torchWeightedBCEGradient, relative: 1e-5, absolute: 1e-9, "weighted BCE gradient (trainer)")
    }

    /// A real run: the first epoch's training loss (one batch, taken before the step) is the
    /// configured loss of the fresh model on the training chips, with `balanced` weights from the
    /// training chips' labels (not the validation chips'), all computed here by hand.
    func testTrainingLossUsesTheConfiguredLossAndBalancedWeights() throws {
        let sample = try Self.sampleChips()
        func relabel(_ chips: ArraySlice<DatasetChip>, _ labels: [[Int]]) -> [DatasetChip] {
            zip(chips, labels).map { chip, labels in var chip = chip; chip.labels = LabelSet(indices: labels); return chip }
        }
        // Positives among the 8 training chips: label 0: 2, label 1: 1, label 2: 6, label 3: 6, others none.
        let train = relabel(sample[0..<8], [[0, 1, 2], [0, 2], [2, 3], [2, 3], [2, 3], [2, 3], [3], [3]])
        let validation = relabel(sample[8..<12], [[1], [1], [1], [0, 1]])
        let handWeights: [Double] = [sqrt(6.0 / 2), sqrt(7.0 / 1), 1, 1] + [Double](repeating: sqrt(8.0 / 1), count: 13)
        let model = try FoldTrainer.makeModel(makeSpec(epochs: 1, batchSize: 8, learningRate: 0.1), bands: 3, observer: nil)
        let fresh = try logits(model, train), targets = Self.targets(train)
        let bce = Self.handBCE(logits: fresh, targets: targets, positiveWeights: handWeights)
        let plainBCE = Self.handBCE(logits: fresh, targets: targets, positiveWeights: [Double](repeating: 1, count: 17))
        let softF2 = Self.handSoftF2(logits: fresh, targets: targets)
        XCTAssertGreaterThan(bce - plainBCE, 5e-3, "the weights matter on this batch")

        for (loss, expected) in [(LossSpec(kind: .bce, positiveWeights: .balanced), bce),
                                 (LossSpec(kind: .bce), plainBCE),
                                 (LossSpec(kind: .softF2), softF2),
                                 (LossSpec(kind: .bceAndSoftF2, positiveWeights: .balanced), (bce + softF2) / 2)] {
            let folder = TestFolder()
            let outcome = try makeTrainer(makeSpec(epochs: 1, batchSize: 8, learningRate: 0.1, loss: loss), folder: folder.path,
                                          train: train, validation: validation).run(observer: nil)
            XCTAssertEqual(outcome.history[0].trainLoss, expected, accuracy: 2e-6 * expected, "\(loss)")
        }
    }

    // MARK: - 4. Gradient-norm clipping

    /// clipGradients against torch.nn.utils.clip_grad_norm_ (make_trainer_reference.py): the global
    /// norm becomes the bound, every gradient is scaled by the same factor, and gradients whose norm
    /// is below the bound are left bit for bit.
    func testClipGradientsMatchesTorch() {
        func parameters() -> [Parameter] {
            let a = Parameter(Tensor(shape: [2])), b = Parameter(Tensor(shape: [1, 3]))
            a.gradient = Tensor(shape: [2], scalars: [3, -4])
            b.gradient = Tensor(shape: [1, 3], scalars: [12, 0, -0.5])
            return [a, b]
        }
        let clipped = parameters()
        let norm = clipGradients(clipped, maxNorm: 6.5)
        XCTAssertEqual(Double(norm), 13.009611831257688, accuracy: 1e-6 * 13)  // √(9 + 16 + 144 + 0.25), before clipping
        assertClose(clipped[0].gradient.scalars, [1.4988916467328002, -1.9985221956437336], relative: 1e-6, "a")
        assertClose(clipped[1].gradient.scalars, [5.995566586931201, 0.0, -0.2498152744554667], relative: 1e-6, "b")
        let after = clipped.flatMap(\.gradient.scalars).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(after, 6.5, accuracy: 1e-5 * 6.5, "the global norm is the bound")
        // Direction unchanged: one factor for every component of every tensor.
        let original: [Float] = [3, -4, 12, 0, -0.5], now = clipped.flatMap(\.gradient.scalars)
        for (o, c) in zip(original, now) where o != 0 { XCTAssertEqual(Double(c / o), 6.5 / 13.009611831257688, accuracy: 1e-6) }

        let below = parameters()
        XCTAssertEqual(Double(clipGradients(below, maxNorm: 13.1)), 13.009611831257688, accuracy: 1e-5)
        XCTAssertEqual(below.flatMap(\.gradient.scalars), [3, -4, 12, 0, -0.5], "below the bound: untouched")
    }

    /// In a training step: with `clip_gradient_norm: 0.001` and lr 1000, one SGD step moves the
    /// weights by exactly lr·0.001 = 1 in global norm, along the unclipped gradient (computed here
    /// on the same chips from the same initial model): the clip is global, not per tensor. A bound
    /// above the gradient's norm changes nothing: the same weights, bit for bit, as no clipping.
    func testTrainerClipsTheGlobalGradientNorm() throws {
        let chips = Array(try Self.sampleChips().prefix(4))
        let spec = makeSpec(epochs: 1, batchSize: 4, learningRate: 1000, clip: 0.001)
        let folder = TestFolder()
        _ = try makeTrainer(spec, folder: folder.path, train: chips, validation: chips).run(observer: nil)
        let after = try weights(folder.path + "/last.safetensors")

        // The unclipped gradient of the fresh model on these chips.
        let model = try FoldTrainer.makeModel(spec, bands: 3, observer: nil)
        let initial = model.state(prefix: "").map { ($0.name, $0.entry) }
        let predictor = Predictor(bands: .rgb, statistics: Self.statistics, inputSize: 32, batchSize: 4, workers: 1)
        let batches = predictor.loader(for: chips).epoch(0)
        let batch = try XCTUnwrap(try batches.next())
        model.zeroGradients()
        let (_, gradient) = BinaryCrossEntropy().lossAndGradient(logits: model.forward(batch.input, mode: .training), targets: batch.targets!)
        _ = model.backward(gradient)
        var gradientSquares = 0.0, stepSquares = 0.0, dot = 0.0
        for (name, entry) in initial {
            guard case .parameter(let parameter) = entry else { continue }
            let moved = try XCTUnwrap(after[name])
            for i in parameter.value.scalars.indices {
                let step = Double(moved.scalars[i]) - Double(parameter.value.scalars[i]), g = Double(parameter.gradient.scalars[i])
                gradientSquares += g * g
                stepSquares += step * step
                dot += -step * g
            }
        }
        XCTAssertGreaterThan(gradientSquares.squareRoot(), 0.01, "premise: the gradient's norm is well above the bound")
        // torch's factor, bound / (norm + 1e-6), leaves the clipped norm at bound·norm/(norm + 1e-6).
        let norm = gradientSquares.squareRoot()
        XCTAssertEqual(stepSquares.squareRoot(), 1000 * 0.001 * norm / (norm + 1e-6), accuracy: 2e-7, "lr · bound")
        XCTAssertEqual(dot / (stepSquares.squareRoot() * gradientSquares.squareRoot()), 1, accuracy: 1e-6, "along −gradient")

        let loose = TestFolder(), none = TestFolder()
        var looseSpec = spec, noneSpec = spec
        looseSpec.clipGradientNorm = 1e6
        noneSpec.clipGradientNorm = nil
        _ = try makeTrainer(looseSpec, folder: loose.path, train: chips, validation: chips).run(observer: nil)
        _ = try makeTrainer(noneSpec, folder: none.path, train: chips, validation: chips).run(observer: nil)
        XCTAssertEqual(try weights(loose.path + "/last.safetensors"), try weights(none.path + "/last.safetensors"))
        XCTAssertNotEqual(try weights(none.path + "/last.safetensors"), after)
    }

    // MARK: - 5. Schedules as the trainer drives them

    /// The rate each epoch's last step got (EpochRecord.learningRate, what the optimiser was given)
    /// and LearningRatePlan.rate for every step, against torch StepLR (stepped per epoch) and OneCycleLR
    /// (stepped per batch); 8 chips in batches of 4: 2 steps per epoch. The one-cycle run is stopped
    /// after 2 epochs and resumed: the step count comes back. Numbers: make_trainer_reference.py.
    func testStepAndOneCycleRatesMatchTorch() throws {
        let chips = Array(try Self.sampleChips().prefix(8))
        let stepLR: [Double] = [0.1, 0.1, 0.05, 0.05, 0.025]  // StepLR(step_size=2, gamma=0.5), epochs 0...4
        let stepSpec = makeSpec(epochs: 5, batchSize: 4, learningRate: 0.1, schedule: .step(everyEpochs: 2, gamma: 0.5))
        let stepFolder = TestFolder()
        let stepTrainer = makeTrainer(stepSpec, folder: stepFolder.path, train: chips, validation: chips)
        let stepRun = try stepTrainer.run(observer: nil)
        assertClose(stepRun.history.map(\.learningRate), stepLR, relative: 1e-6, "StepLR per epoch")
        assertClose((0..<10).map { LearningRatePlan(spec: stepSpec, stepsPerEpoch: 2, history: []).rate(step: $0, epoch: $0 / 2) },
                    stepLR.flatMap { [$0, $0] }, relative: 1e-6, "StepLR per step")

        let oneCycle: [Double] = [  // OneCycleLR(max_lr=0.1, total_steps=10), steps 0...9
            0.0040000000000000036, 0.052000000000000005, 0.1, 0.09504846320134738, 0.0811745653949763,
            0.06112620219362893, 0.03887419780637107, 0.0188258346050237, 0.004951936798652629, 4e-07,
        ]
        let cycleSpec = makeSpec(epochs: 5, batchSize: 4, learningRate: 0.1, schedule: .oneCycle)
        let cycleFolder = TestFolder()
        let cycleTrainer = makeTrainer(cycleSpec, folder: cycleFolder.path, train: chips, validation: chips, epochsThisCall: 2)
        XCTAssertEqual(try cycleTrainer.run(observer: nil).history.count, 2)
        let cycleRun = try makeTrainer(cycleSpec, folder: cycleFolder.path, train: chips, validation: chips).run(observer: nil)
        assertClose(cycleRun.history.map(\.learningRate), [1, 3, 5, 7, 9].map { oneCycle[$0] }, relative: 1e-5,
                    "OneCycleLR at each epoch's last step (steps 1, 3, ..., 9)")
        assertClose((0..<10).map { LearningRatePlan(spec: cycleSpec, stepsPerEpoch: 2, history: []).rate(step: $0, epoch: $0 / 2) }, oneCycle,
                    relative: 1e-5, "OneCycleLR per step")
    }

    /// ReduceOnPlateau against torch ReduceLROnPlateau (mode min, threshold 1e-4 relative) on a
    /// metric sequence with improvements smaller than the threshold, a cooldown and a floor.
    func testReduceOnPlateauMatchesTorch() {
        let metrics: [Float] = [1.0, 0.99995, 0.9, 0.95, 0.95, 0.8999, 0.95, 0.95, 0.95, 0.95, 0.5]
        func used(_ schedule: ReduceOnPlateau) -> [Float] {
            var schedule = schedule, rates: [Float] = []
            for metric in metrics {
                rates.append(schedule.learningRate)
                _ = schedule.record(metric: metric)
            }
            return rates
        }
        assertClose(used(ReduceOnPlateau(learningRate: 0.1, factor: 0.5, patience: 1)),
                    [0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.0125], relative: 1e-6, "patience 1")
        assertClose(used(ReduceOnPlateau(learningRate: 0.1, factor: 0.5, patience: 1, cooldown: 1, minimum: 0.04)),
                    [0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.04, 0.04, 0.04], relative: 1e-6, "cooldown 1, min 0.04")
    }

    /// `schedule: {kind: plateau, factor: 0.5, patience: 1}` in a run whose training loss falls every
    /// epoch while its validation loss rises every epoch (the validation chips are relabelled with all
    /// 17 labels, while training pushes most labels' logits down): the validation loss never
    /// improves, so torch gives 0.1 ×[1, 1, 1, ½, ½, ¼, ¼] for epochs 1...7 (a schedule driven by the
    /// training loss would never reduce). The same run stopped after epoch 2 (one bad epoch counted,
    /// mid-plateau) and after epoch 4 and resumed must give the same rates: the plateau's best value
    /// and patience counter are restored, and every step of an epoch gets its epoch's rate.
    func testPlateauRatesAcrossAResume() throws {
        let sample = try Self.sampleChips()
        let train = Array(sample.prefix(8))
        let validation = sample[8..<12].map { chip in var chip = chip; chip.labels = LabelSet.all; return chip }
        let torchRates: [Double] = [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
        let spec = makeSpec(epochs: 7, batchSize: 4, learningRate: 0.1, schedule: .plateau(factor: 0.5, patience: 1))
        let whole = TestFolder(), pieces = TestFolder()
        let uninterrupted = try makeTrainer(spec, folder: whole.path, train: train, validation: validation).run(observer: nil)
        let losses = uninterrupted.history.map(\.validationLoss), trainLosses = uninterrupted.history.map(\.trainLoss)
        for e in 1..<7 {
            XCTAssertGreaterThan(losses[e], losses[e - 1], "premise: the validation loss rises \(losses)")
            XCTAssertLessThan(trainLosses[e], trainLosses[e - 1] * (1 - 1e-4), "premise: the training loss falls (by more than the 1e-4 threshold) \(trainLosses)")
        }
        assertClose(uninterrupted.history.map(\.learningRate), torchRates, relative: 1e-6, "uninterrupted")

        var history: [EpochRecord] = []
        for (calls, count) in [(2, 2), (2, 4), (nil, 7)] as [(Int?, Int)] {
            history = try makeTrainer(spec, folder: pieces.path, train: train, validation: validation, epochsThisCall: calls)
                .run(observer: nil).history
            XCTAssertEqual(history.count, count)
        }
        assertClose(history.map(\.learningRate), torchRates, relative: 1e-6, "stopped after epochs 2 and 4, resumed")
        XCTAssertEqual(history.map(\.validationLoss), losses)

        // Each step of an epoch gets the epoch's rate: the plateau replayed over the first e epochs.
        for epoch in 0..<7 {
            let rates = LearningRatePlan(spec: spec, stepsPerEpoch: 2, history: Array(uninterrupted.history.prefix(epoch)))
            for step in [2 * epoch, 2 * epoch + 1] {
                XCTAssertEqual(Double(rates.rate(step: step, epoch: epoch)), torchRates[epoch],
                               accuracy: 1e-6 * torchRates[epoch])
            }
        }
    }
}
