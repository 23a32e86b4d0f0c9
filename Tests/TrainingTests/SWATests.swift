import Foundation
import NN
import PlanetData
import Tensor
@testable import Training
import XCTest

/// `swa: {epochs: N}`: the averaging arithmetic, the batch-norm statistics of the average, and that
/// a trained fold's best.safetensors is the average of its last epochs' weights, also when the run
/// was stopped and resumed. Expected values are computed here by hand (Double where the engine uses
/// Float, or the running-mean formula written out again), never by the code under test.
final class SWATests: XCTestCase {
    /// conv (3 -> 2, 1x1) then batch norm: a parameter of each kind and every batch-norm buffer.
    static func tinyModel(_ seed: UInt64 = 5) -> (Sequential, Convolution2D, BatchNorm) {
        var random = SeededRandom(seed: seed)
        let conv = Convolution2D(3, 2, kernel: 1, random: &random), norm = BatchNorm(channels: 2)
        return (Sequential(named: [("conv", conv), ("bn", norm)]), conv, norm)
    }

    /// Snapshot `k`'s value of element `i` of the tensor named `name`: distinct, not representable
    /// exactly (so rounding shows), of both signs.
    static func snapshotValue(_ k: Int, _ name: String, _ i: Int) -> Float {
        Float(Double(k + 1) * 0.3137 - Double(i) * 0.0719 + Double(name.count) * 0.011) * (i % 2 == 0 ? 1 : -1)
    }

    func testTheAverageIsTheRunningMeanOfTheSnapshotsAndTheLastCounter() throws {
        let (model, _, norm) = Self.tinyModel()
        var average = WeightAverage()
        var snapshots: [[String: [Float]]] = []
        for k in 0..<3 {
            var snapshot: [String: [Float]] = [:]
            for (name, entry) in model.state(prefix: "") {
                let shape = entry.value.shape
                let values = name.hasSuffix("num_batches_tracked") ? [Float(10 * (k + 1))]
                    : (0..<entry.value.count).map { Self.snapshotValue(k, name, $0) }
                switch entry {
                case .parameter(let p): p.value = Tensor(shape: shape, scalars: values)
                case .buffer(let b): b.value = Tensor(shape: shape, scalars: values)
                }
                snapshot[name] = values
            }
            snapshots.append(snapshot)
            average.add(model)
        }
        XCTAssertEqual(average.count, 3)
        XCTAssertEqual(Set(average.tensors.keys), ["conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                                                   "bn.num_batches_tracked"])
        for (name, averaged) in average.tensors where name != "bn.num_batches_tracked" {
            for i in averaged.scalars.indices {
                // The running mean in Float, as written in PyTorch's AveragedModel, step by step ...
                var mean = snapshots[0][name]![i]
                for n in 2...3 { mean = mean + (snapshots[n - 1][name]![i] - mean) / Float(n) }
                XCTAssertEqual(averaged.scalars[i], mean, "\(name)[\(i)]")
                // ... and close to the plain mean in Double.
                let plain = (0..<3).map { Double(snapshots[$0][name]![i]) }.reduce(0, +) / 3
                XCTAssertEqual(Double(averaged.scalars[i]), plain, accuracy: 1e-6, "\(name)[\(i)]")
            }
        }
        XCTAssertEqual(average.tensors["bn.num_batches_tracked"]?.scalars, [30], "the last snapshot's count, not a mean (20)")
        XCTAssertEqual(average.counters, ["bn.num_batches_tracked"])

        // As a resume file keeps it (the counter as I64), and read back.
        let stored = average.stored
        XCTAssertEqual(stored["swa.bn.num_batches_tracked"]?.dtype, .i64)
        XCTAssertEqual(stored["swa.bn.running_var"]?.dtype, .f32)
        let back = WeightAverage(count: 3, stored: Dictionary(uniqueKeysWithValues: stored.map { (String($0.key.dropFirst(4)), $0.value) }))
        XCTAssertEqual(back, average)

        // Applied to a fresh model of the same shape, every tensor is the average's.
        let (fresh, _, freshNorm) = Self.tinyModel(9)
        try average.apply(to: fresh)
        for (name, entry) in fresh.state(prefix: "") { XCTAssertEqual(entry.value, average.tensors[name], name) }
        XCTAssertEqual(freshNorm.runningMean.value.scalars, average.tensors["bn.running_mean"]!.scalars)
        XCTAssertNotEqual(norm.runningMean.value, freshNorm.runningMean.value, "the last snapshot is not the average")
        // A model of another shape is refused, untouched.
        var random = SeededRandom(seed: 1)
        let other = Sequential(named: [("conv", Convolution2D(3, 4, kernel: 1, random: &random))])
        let before = other.state(prefix: "").map(\.entry.value)
        XCTAssertThrowsError(try average.apply(to: other))
        XCTAssertEqual(other.state(prefix: "").map(\.entry.value), before)
    }

    /// Per channel of a [C, N, H, W] tensor: the mean and the biased and unbiased variances, in Double.
    static func channelStatistics(_ x: [Double], channels: Int) -> [(mean: Double, biased: Double, unbiased: Double)] {
        let run = x.count / channels
        return (0..<channels).map { c in
            let row = x[(c * run)..<((c + 1) * run)]
            let mean = row.reduce(0, +) / Double(run)
            let squares = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +)
            return (mean, squares / Double(run), squares / Double(run - 1))
        }
    }

    /// After the recompute, each batch norm's running mean and variance are the plain means over
    /// the batches of each batch's mean and unbiased variance (PyTorch's update_bn, momentum None),
    /// whatever they were before; the first layer's from the input, the second's from a 1x1
    /// convolution of the first's normalised output, all computed here in Double.
    func testRecomputedBatchNormStatisticsAreThePlainMeansOfTheBatches() throws {
        let first = BatchNorm(channels: 3), second = BatchNorm(channels: 2)
        var random = SeededRandom(seed: 2)
        let conv = Convolution2D(3, 2, kernel: 1, random: &random)
        let w: [Double] = [0.5, -1.25, 2, 0.75, 0.125, -0.5], b: [Double] = [0.3, -0.2]
        conv.weight.value = Tensor(shape: [2, 3, 1, 1], scalars: w.map(Float.init))
        conv.bias!.value = Tensor(shape: [2], scalars: b.map(Float.init))
        let model = Sequential(named: [("bn0", first), ("conv", conv), ("bn1", second)])
        // Running statistics far from the answer: the recompute must reset them.
        for layer in [first, second] {
            layer.runningMean.value.scalars = layer.runningMean.value.scalars.map { _ in 7 }
            layer.runningVariance.value.scalars = layer.runningVariance.value.scalars.map { _ in 9 }
            layer.batchesTracked.value.scalars = [123]
        }
        // Two batches of 2 and 3 chips, 2x2 pixels, different levels per channel.
        let sizes = [2, 3]
        let batches: [[Double]] = sizes.enumerated().map { index, n in
            (0..<(3 * n * 4)).map { i in Double(i / (n * 4)) * 1.5 + sin(Double(i * 7 + index * 13)) * Double(index + 1) }
        }
        var remaining = zip(batches, sizes).map { Tensor(shape: [3, $1, 2, 2], scalars: $0.map(Float.init)) }
        let used = try WeightAverage.recomputeBatchNorm(model) { remaining.isEmpty ? nil : remaining.removeFirst() }
        XCTAssertEqual(used, 2)

        var expectedFirst: [[(mean: Double, biased: Double, unbiased: Double)]] = [], expectedSecond = expectedFirst
        for (x, n) in zip(batches, sizes) {
            let statistics = Self.channelStatistics(x.map { Double(Float($0)) }, channels: 3)
            expectedFirst.append(statistics)
            // bn0 in training: (x − mean) / √(biased variance + ε) (weight 1, bias 0); then the 1x1 convolution.
            let run = n * 4
            let z = x.indices.map { i in (Double(Float(x[i])) - statistics[i / run].mean) / (statistics[i / run].biased + 1e-5).squareRoot() }
            var y = [Double](repeating: 0, count: 2 * run)
            for o in 0..<2 {
                for p in 0..<run { y[o * run + p] = b[o] + (0..<3).map { w[o * 3 + $0] * z[$0 * run + p] }.reduce(0, +) }
            }
            expectedSecond.append(Self.channelStatistics(y, channels: 2))
        }
        for (layer, expected) in [(first, expectedFirst), (second, expectedSecond)] {
            for c in expected[0].indices {
                let mean = (expected[0][c].mean + expected[1][c].mean) / 2, variance = (expected[0][c].unbiased + expected[1][c].unbiased) / 2
                XCTAssertEqual(Double(layer.runningMean.value.scalars[c]), mean, accuracy: 1e-5 * max(1, abs(mean)), "channel \(c)")
                XCTAssertEqual(Double(layer.runningVariance.value.scalars[c]), variance, accuracy: 1e-5 * max(1, variance), "channel \(c)")
                // Not what the last batch alone would give (bn1's mean is the convolution's bias in every batch).
                XCTAssertGreaterThan(max(abs(mean - expected[1][c].mean), abs(variance - expected[1][c].unbiased)), 1e-3,
                                     "premise: the batches differ in channel \(c)")
            }
            XCTAssertEqual(layer.batchesTracked.value.scalars, [2])
            XCTAssertFalse(layer.cumulativeAverage, "back to momentum after the recompute")
        }
        // No batch: an error, not statistics of nothing. A model without batch norm reads none.
        XCTAssertThrowsError(try WeightAverage.recomputeBatchNorm(model) { nil })
        var read = 0
        XCTAssertEqual(try WeightAverage.recomputeBatchNorm(Sequential(named: [("conv", conv)])) { read += 1; return nil }, 0)
        XCTAssertEqual(read, 0)
    }

    // MARK: - Training runs (tiny: 8 chips of datasets/planet-sample at 32 px)

    func makeSpec(_ backbone: String, epochs: Int, swa: Int) -> ModelSpec {
        var spec = ModelSpec(backbone: backbone, inputSize: 32, epochs: epochs, batchSize: 4,
                             optimizer: OptimizerSpec(kind: .sgd, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4),
                             schedule: .cosine(warmupEpochs: 1), augmentation: .planetDefault, seed: 3)
        spec.swa = WeightAveraging(epochs: swa)
        return spec
    }

    func trainer(_ spec: ModelSpec, _ folder: TestFolder, chips: (train: [DatasetChip], validation: [DatasetChip]),
                 epochsThisCall: Int? = nil) -> FoldTrainer {
        let trainer = FoldTrainer(spec: spec, fold: 0, folder: folder.path, train: chips.train, validation: chips.validation,
                                  bands: .rgb, statistics: TrainerBehaviourTests.statistics, fingerprint: "swa")
        trainer.epochsThisCall = epochsThisCall
        return trainer
    }

    func tensors(_ path: String) throws -> [String: Tensor] { try SafeTensorsFile.read(path).tensors.mapValues(\.tensor) }

    /// Trained one epoch a call (each call a resume), keeping last.safetensors after each epoch,
    /// then checked against a run that never stopped: the same bytes. best.safetensors is the
    /// running mean of the last `swa` snapshots (parameters; the batch-norm statistics are the
    /// recomputed ones). `thorough` (for a small model: the files of a debug build are slow to
    /// read) also checks the resume files: the average of every tensor and its count, and that a
    /// call on the trained fold makes the same average again. Returns best.safetensors, the
    /// average computed here, the outcome and the validation chips.
    func checkAveragedRun(_ spec: ModelSpec, training: Int, validation: Int, thorough: Bool) throws
        -> (best: [String: Tensor], average: [String: Tensor], outcome: FoldOutcome, validation: [DatasetChip]) {
        let sample = try TrainerBehaviourTests.sampleChips()
        let chips = (train: Array(sample.prefix(training)), validation: Array(sample.suffix(validation)))
        let (epochs, swa) = (spec.epochs, spec.swa!.epochs)
        let pieces = TestFolder(), whole = TestFolder()
        var snapshots: [[String: Tensor]] = []
        var resumed: FoldOutcome?
        for call in 1...epochs {
            let outcome = try trainer(spec, pieces, chips: chips, epochsThisCall: 1).run(observer: nil)
            resumed = outcome
            XCTAssertEqual(outcome.history.count, call)
            snapshots.append(try tensors(pieces.path + "/last.safetensors"))
            XCTAssertEqual(outcome.averaged != nil, call == epochs, "the average is the model once every epoch is trained")
            XCTAssertEqual(FileManager.default.fileExists(atPath: pieces.path + "/best.safetensors"), call == epochs)
            if thorough {
                let stored = try Checkpoint.loadTrainingState(from: pieces.path + "/resume.safetensors")
                let averaged = max(0, call - (epochs - swa))
                XCTAssertEqual(stored.metadata["canopy.swa_count"], averaged == 0 ? nil : String(averaged), "after epoch \(call)")
                XCTAssertEqual(stored.tensors(prefix: "swa.").count, averaged == 0 ? 0 : snapshots[0].count)
            }
        }
        let outcome = try trainer(spec, whole, chips: chips).run(observer: nil)
        for file in ["best.safetensors", "last.safetensors"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: whole.path + "/" + file)),
                           try Data(contentsOf: URL(fileURLWithPath: pieces.path + "/" + file)), "\(file): resumed = uninterrupted")
        }
        XCTAssertEqual(outcome.history.map(\.validationLoss), resumed?.history.map(\.validationLoss))
        XCTAssertEqual(outcome.averaged?.validationMeanF2, resumed?.averaged?.validationMeanF2)
        XCTAssertEqual(outcome.averaged?.validationLoss, resumed?.averaged?.validationLoss)

        // The running mean of the last `swa` snapshots, in Float, written out here.
        let window = Array(snapshots.suffix(swa))
        var average: [String: Tensor] = [:]
        for (name, first) in window[0] {
            var mean = first.scalars
            for n in 1..<window.count {
                let next = window[n][name]!.scalars
                for i in mean.indices { mean[i] = mean[i] + (next[i] - mean[i]) / Float(n + 1) }
            }
            average[name] = name.hasSuffix("num_batches_tracked") ? window.last![name]! : Tensor(shape: first.shape, scalars: mean)
        }
        if thorough {
            // The resume files differ in their epochs' timings only; they hold the average.
            XCTAssertEqual(try tensors(whole.path + "/resume.safetensors"), try tensors(pieces.path + "/resume.safetensors"))
            let stored = try Checkpoint.loadTrainingState(from: whole.path + "/resume.safetensors")
            XCTAssertEqual(stored.tensors(prefix: "swa.").mapValues(\.tensor), average)
            // Called again on the trained fold: nothing trains, the same average is made again.
            let repeated = try trainer(spec, whole, chips: chips).run(observer: nil)
            XCTAssertEqual(repeated.history, outcome.history)
            XCTAssertEqual(repeated.averaged?.validationLoss, outcome.averaged?.validationLoss)
        }
        let best = try tensors(whole.path + "/best.safetensors")
        XCTAssertEqual(Set(best.keys), Set(average.keys))
        for (name, tensor) in average where !name.contains("running_") && !name.hasSuffix("num_batches_tracked") {
            XCTAssertEqual(best[name], tensor, "best.safetensors \(name)")
        }
        XCTAssertNotEqual(best, snapshots.last!, "the averaged model is not the last epoch's")
        let record = try XCTUnwrap(outcome.averaged)
        XCTAssertEqual([record.firstEpoch, record.lastEpoch], [epochs - swa + 1, epochs])
        XCTAssertEqual(outcome.bestEpoch, epochs)
        XCTAssertFalse(outcome.stoppedEarly)
        return (best, average, outcome, chips.validation)
    }

    /// LeNet-5 has no batch norm: best.safetensors is exactly the average, and its validation
    /// loss, recomputed by hand from the logits of a model loaded with it, is the record's.
    func testAFoldWithSWAPredictsWithTheAverageOfItsLastEpochs() throws {
        let spec = makeSpec("lenet5", epochs: 3, swa: 2)
        let (best, average, outcome, validation) = try checkAveragedRun(spec, training: 8, validation: 6, thorough: true)
        XCTAssertEqual(best, average)
        let record = try XCTUnwrap(outcome.averaged)
        XCTAssertEqual(record.batchNormBatches, 0)
        let network = try FoldTrainer.makeModel(spec, bands: 3, observer: nil)
        try Checkpoint.apply(SafeTensorsFile(tensors: best.mapValues { StoredTensor($0) }), to: network, path: "best", strict: true)
        let predictor = Predictor(bands: .rgb, statistics: TrainerBehaviourTests.statistics, inputSize: 32, batchSize: validation.count, workers: 1)
        var logits: Tensor?
        _ = try predictor.predict(network, chips: validation, tta: .none, eachBatch: { batchLogits, _ in logits = batchLogits })
        let loss = TrainerBehaviourTests.handBCE(logits: try XCTUnwrap(logits), targets: TrainerBehaviourTests.targets(validation),
                                                 positiveWeights: [Double](repeating: 1, count: 17))
        XCTAssertEqual(record.validationLoss, loss, accuracy: 1e-6 * loss)
        XCTAssertNotEqual(record.validationLoss, outcome.history.last!.validationLoss, "the average scores otherwise than the last epoch")
    }

    /// ResNet-18 has batch norm: the average's running statistics are replaced by ones recomputed
    /// over one pass of the training loader (4 chips, batches of 2: 2 batches), so best.safetensors
    /// differs from the average there, and only there, and counts those 2 batches. One epoch
    /// averaged (the average is the last epoch's weights) and no resume: a debug build is slow with
    /// ResNet-18's files; the averaging over epochs and resuming are the LeNet-5 test's.
    func testTheAveragesBatchNormStatisticsAreRecomputedOnTheTrainingChips() throws {
        var spec = makeSpec("resnet18", epochs: 1, swa: 1)
        spec.batchSize = 2
        spec.optimizer.momentum = 0
        spec.optimizer.nesterov = false
        let sample = try TrainerBehaviourTests.sampleChips(), folder = TestFolder()
        let outcome = try trainer(spec, folder, chips: (Array(sample.prefix(4)), Array(sample.suffix(2)))).run(observer: nil)
        XCTAssertEqual(outcome.averaged?.batchNormBatches, 2)
        XCTAssertEqual(outcome.bestEpoch, 1)
        let best = try tensors(folder.path + "/best.safetensors"), last = try tensors(folder.path + "/last.safetensors")
        XCTAssertEqual(Set(best.keys), Set(last.keys))
        let running = best.keys.filter { $0.contains("running_") }
        XCTAssertEqual(running.count, 2 * 20, "resnet18 has 20 batch norms")
        for name in running { XCTAssertNotEqual(best[name], last[name], name) }
        XCTAssertEqual(last["bn1.num_batches_tracked"]?.scalars, [2], "one epoch of 2 batches")
        for name in best.keys where name.hasSuffix("num_batches_tracked") { XCTAssertEqual(best[name]?.scalars, [2], name) }
        for name in best.keys where !name.contains("running_") && !name.hasSuffix("num_batches_tracked") {
            XCTAssertEqual(best[name], last[name], name)
        }
        // The recomputed statistics are not the training's momentum average: bn1's running mean is
        // the plain mean of its 2 batch means, which momentum 0.1 from 0 would have shrunk below a fifth.
        let recomputed = best["bn1.running_mean"]!.scalars, trained = last["bn1.running_mean"]!.scalars
        let trainedSize: Double = trained.map { Double(abs($0)) }.reduce(0, +)
        let recomputedSize: Double = recomputed.map { Double(abs($0)) }.reduce(0, +)
        XCTAssertLessThan(trainedSize / recomputedSize, 0.3, "momentum 0.1 over 2 batches keeps at most 0.19 of the batch means (plus drift)")
    }
}
