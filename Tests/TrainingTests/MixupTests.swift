import Foundation
import NN
import PlanetData
import Tensor
@testable import Training
import XCTest

/// `mixup:`: the Beta draws behind λ, the mixing of one batch, the draws' seeding, and the trainer
/// mixing the batches it trains on (and only those).
final class MixupTests: XCTestCase {
    // MARK: - Gamma and Beta draws

    static func moments(_ draws: [Double]) -> (mean: Double, variance: Double) {
        let mean = draws.reduce(0, +) / Double(draws.count)
        return (mean, draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count - 1))
    }

    /// Beta(a, b) has mean a/(a + b) and variance ab/((a + b)²(a + b + 1)); 40 000 draws from a fixed
    /// seed, each moment within about 4 standard errors (for Beta(0.2, 0.2): mean 0.5 ± 0.0021,
    /// variance 0.1786 ± 0.0009, the draws piling up near 0 and 1).
    func testBetaDrawsHaveTheBetaMoments() {
        for (a, b, meanTolerance, varianceTolerance) in [(0.2, 0.2, 0.009, 0.004), (1.0, 1.0, 0.006, 0.002), (2.0, 5.0, 0.003, 0.001),
                                                         (0.5, 3.0, 0.003, 0.001)] {
            var random = SeededRandom(seed: 17)
            let draws = (0..<40_000).map { _ in random.nextBeta(a, b) }
            XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 <= 1 }, "Beta(\(a), \(b)) in [0, 1]")
            let (mean, variance) = Self.moments(draws)
            XCTAssertEqual(mean, a / (a + b), accuracy: meanTolerance, "Beta(\(a), \(b)) mean")
            XCTAssertEqual(variance, a * b / ((a + b) * (a + b) * (a + b + 1)), accuracy: varianceTolerance, "Beta(\(a), \(b)) variance")
        }
        // Symmetric: as many draws below 1/2 as above (Beta(0.2, 0.2) is U-shaped, most near the ends).
        var random = SeededRandom(seed: 5)
        let draws = (0..<20_000).map { _ in random.nextBeta(0.2, 0.2) }
        XCTAssertEqual(Double(draws.filter { $0 < 0.5 }.count) / 20_000, 0.5, accuracy: 0.015)
        XCTAssertGreaterThan(Double(draws.filter { $0 < 0.1 || $0 > 0.9 }.count) / 20_000, 0.5, "mass near 0 and 1")
    }

    /// Gamma(k, 1) has mean k and variance k, below and above shape 1 (the two branches).
    func testGammaDrawsHaveTheGammaMoments() {
        for shape in [0.3, 1.0, 4.5] {
            var random = SeededRandom(seed: 99)
            let (mean, variance) = Self.moments((0..<40_000).map { _ in exp(random.nextLogGamma(shape: shape)) })
            XCTAssertEqual(mean, shape, accuracy: 0.025 * max(shape, 1), "Gamma(\(shape)) mean")
            XCTAssertEqual(variance, shape, accuracy: 0.06 * max(shape, 1), "Gamma(\(shape)) variance")
        }
    }

    /// Small shapes, where the draws pile up at 0 and 1 (and a tiny α's Gamma draws fall below
    /// Double's least value): λ is still a number in [0, 1], and the share of draws outside
    /// [0.01, 0.99] is the Beta distribution's, 2·I₀.₀₁(α, α) (scipy: 0.95524 for α = 0.01, 0.27910
    /// for α = 0.3), within 4 standard errors of 50 000 draws.
    func testSmallAlphaDrawsPileUpAtTheEndsAsBetaDoes() {
        for (alpha, atEnds, tolerance) in [(0.01, 0.95524, 0.004), (0.3, 0.27910, 0.008)] {
            var random = SeededRandom(seed: 1)
            let draws = (0..<50_000).map { _ in random.nextBeta(alpha, alpha) }
            XCTAssertTrue(draws.allSatisfy { $0 >= 0 && $0 <= 1 }, "α \(alpha)")
            XCTAssertEqual(Double(draws.filter { $0 < 0.01 || $0 > 0.99 }.count) / 50_000, atEnds, accuracy: tolerance, "α \(alpha)")
        }
    }

    // MARK: - Mixing a batch

    /// 2 bands × 3 chips × 2×2 pixels, feature-major: chip i's pixel k in band c is 100c + 10i + k.
    static let input: Tensor = {
        var values: [Float] = []
        for c in 0..<2 { for i in 0..<3 { for k in 0..<4 { values.append(Float(100 * c + 10 * i + k)) } } }
        return Tensor(shape: [2, 3, 2, 2], scalars: values)
    }()

    /// [17, 3]: labels 0 and 2 on chip 0, 2 and 16 on chip 1, 5 on chip 2.
    static let targets: Tensor = {
        var targets = Tensor(shape: [17, 3])
        for (label, chip) in [(0, 0), (2, 0), (2, 1), (5, 2), (16, 1)] { targets.scalars[label * 3 + chip] = 1 }
        return targets
    }()

    /// The first 3 sample chips as the loader batches them (32 px, normalised, in order).
    static func sampleBatch() throws -> Batch {
        let loader = ChipLoader(chips: Array(try TrainerBehaviourTests.sampleChips().prefix(3)), bands: .rgb,
                                options: LoaderOptions(batchSize: 3, inputSize: 32, workers: 1, normalization: TrainerBehaviourTests.statistics))
        return try XCTUnwrap(try loader.epoch(0).next())
    }

    /// λ = 0.25, partners [2, 0, 1]: chip 0 is ¼ itself + ¾ chip 2, and so on, in every band and pixel,
    /// and the same for the targets. (Every value here is exact in Float.)
    func testAKnownLambdaGivesTheConvexCombination() throws {
        let partners = [2, 0, 1], draw = BatchMixer.Draw(lambda: 0.25, partners: partners)
        let input = BatchMixer.mix(Self.input, draw)
        XCTAssertEqual(input.shape, [2, 3, 2, 2])
        // Band 0, chip 0, pixel 0: ¼·0 + ¾·20; band 1, chip 1, pixel 3: ¼·113 + ¾·103.
        XCTAssertEqual(input.scalars[0], 15)
        XCTAssertEqual(input.scalars[12 + 4 + 3], 105.5)
        for c in 0..<2 {
            for i in 0..<3 {
                for k in 0..<4 {
                    let own = Double(100 * c + 10 * i + k), partner = Double(100 * c + 10 * partners[i] + k)
                    XCTAssertEqual(Double(input.scalars[(c * 3 + i) * 4 + k]), 0.25 * own + 0.75 * partner, "band \(c) chip \(i) pixel \(k)")
                }
            }
        }
        let targets = BatchMixer.mix(Self.targets, draw)
        // Label 0: on chip 0 only; label 2: chips 0 and 1; label 5: chip 2; label 16: chip 1.
        XCTAssertEqual(Array(targets.scalars[0..<3]), [0.25, 0.75, 0])
        XCTAssertEqual(Array(targets.scalars[6..<9]), [0.25, 1, 0.75])
        XCTAssertEqual(Array(targets.scalars[15..<18]), [0.75, 0, 0.25])
        XCTAssertEqual(Array(targets.scalars[48..<51]), [0, 0.25, 0.75])
        XCTAssertEqual(targets.scalars.reduce(0, +), 5, "each label's mass is kept under a permutation")
        // λ = 1, or every chip its own partner: as it was.
        XCTAssertEqual(BatchMixer.mix(Self.input, .init(lambda: 1, partners: partners)), Self.input)
        XCTAssertEqual(BatchMixer.mix(Self.targets, .init(lambda: 0.3, partners: [0, 1, 2])), Self.targets)
    }

    /// A whole batch: input and targets mixed by the same draw; its chips' names and indices stay.
    func testABatchMixesInputAndTargetsAlike() throws {
        let batch = try Self.sampleBatch(), draw = BatchMixer.Draw(lambda: 0.7, partners: [1, 2, 0])
        let mixed = BatchMixer.mix(batch, draw)
        XCTAssertEqual(mixed.input, BatchMixer.mix(batch.input, draw))
        XCTAssertEqual(mixed.targets, BatchMixer.mix(try XCTUnwrap(batch.targets), draw))
        XCTAssertNotEqual(mixed.input, batch.input)
        XCTAssertEqual(mixed.names, batch.names)
        XCTAssertEqual(mixed.chipIndices, batch.chipIndices)
        // Band 2, chip 1, pixel 40: 0.7 · its own + 0.3 · chip 2's.
        let pixels = 32 * 32, at = (2 * 3 + 1) * pixels + 40, partner = (2 * 3 + 2) * pixels + 40
        XCTAssertEqual(Double(mixed.input.scalars[at]), 0.7 * Double(batch.input.scalars[at]) + 0.3 * Double(batch.input.scalars[partner]),
                       accuracy: 1e-5)
    }

    /// The same (seed, fold, epoch, batch) gives the same λ and partners, from any mixer; another
    /// epoch, batch, fold or seed gives others. Pinned: what seed 3, fold 0, epoch 0, batch 0 draws.
    func testDrawsAreSeededByRunFoldEpochAndBatch() throws {
        let mixup = Mixup(alpha: 0.4, probability: 1)
        let a = BatchMixer(mixup, seed: 3, fold: 0), b = BatchMixer(mixup, seed: 3, fold: 0)
        let draw = try XCTUnwrap(a.draw(epoch: 2, index: 5, count: 32))
        XCTAssertEqual(b.draw(epoch: 2, index: 5, count: 32), draw)
        XCTAssertEqual(draw.partners.sorted(), Array(0..<32), "a permutation")
        XCTAssertNotEqual(draw.partners, Array(0..<32))
        let others = [a.draw(epoch: 3, index: 5, count: 32), a.draw(epoch: 2, index: 6, count: 32),
                      BatchMixer(mixup, seed: 3, fold: 1).draw(epoch: 2, index: 5, count: 32),
                      BatchMixer(mixup, seed: 4, fold: 0).draw(epoch: 2, index: 5, count: 32)]
        for other in others {
            XCTAssertNotEqual(try XCTUnwrap(other).lambda, draw.lambda)
            XCTAssertNotEqual(try XCTUnwrap(other).partners, draw.partners)
        }
        let pinned = try XCTUnwrap(a.draw(epoch: 0, index: 0, count: 8))
        XCTAssertEqual(pinned.lambda, 0.012202995)
        XCTAssertEqual(pinned.partners, [4, 6, 0, 5, 1, 3, 7, 2])
    }

    /// Probability 0 mixes no batch (the batch comes back as it was); 1 mixes every one; 0.3 about
    /// 30% of them, each batch's coin its own.
    func testProbabilityDecidesWhichBatchesMix() throws {
        let batch = try Self.sampleBatch()
        let never = BatchMixer(Mixup(alpha: 0.2, probability: 0), seed: 3, fold: 0)
        let always = BatchMixer(Mixup(alpha: 0.2, probability: 1), seed: 3, fold: 0)
        let sometimes = BatchMixer(Mixup(alpha: 0.2, probability: 0.3), seed: 3, fold: 0)
        var mixed = 0
        for epoch in 0..<10 {
            for index in 0..<100 {
                XCTAssertNil(never.draw(epoch: epoch, index: index, count: 3))
                XCTAssertNotNil(always.draw(epoch: epoch, index: index, count: 3))
                if sometimes.draw(epoch: epoch, index: index, count: 3) != nil { mixed += 1 }
            }
            let untouched = never.mix(batch, epoch: epoch)
            XCTAssertEqual(untouched.input, batch.input)
            XCTAssertEqual(untouched.targets, batch.targets)
        }
        XCTAssertEqual(Double(mixed) / 1000, 0.3, accuracy: 0.06)
        XCTAssertNotEqual(always.mix(batch, epoch: 0).input, batch.input)
    }

    // MARK: - In the trainer

    /// LeNet-5 at 32 px, plain SGD, no augmentation, seed 3 (as `TrainerBehaviourTests`).
    func spec(epochs: Int = 1, mixup: Mixup?) -> ModelSpec {
        var spec = ModelSpec(backbone: "lenet5", inputSize: 32, epochs: epochs, batchSize: 8,
                             optimizer: OptimizerSpec(kind: .sgd, learningRate: 0.1, momentum: 0, nesterov: false, weightDecay: 0),
                             schedule: .constant, augmentation: .none, seed: 3)
        spec.mixup = mixup
        return spec
    }

    func run(_ spec: ModelSpec, _ folder: TestFolder, epochsThisCall: Int? = nil) throws -> (FoldOutcome, [String: Tensor]) {
        let chips = try TrainerBehaviourTests.sampleChips()
        let trainer = FoldTrainer(spec: spec, fold: 0, folder: folder.path, train: Array(chips[0..<8]), validation: Array(chips[8..<12]),
                                  bands: .rgb, statistics: TrainerBehaviourTests.statistics, fingerprint: "mixup")
        trainer.epochsThisCall = epochsThisCall
        let outcome = try trainer.run(observer: nil)
        return (outcome, try SafeTensorsFile.read(folder.path + "/last.safetensors").tensors.mapValues(\.tensor))
    }

    /// The first epoch's training loss (one batch of the 8 chips, taken before the step) is BCE of
    /// the fresh model on that batch mixed by the draw for (seed 3, fold 0, epoch 0, batch 0),
    /// against the mixed targets; the batch rebuilt here as the trainer's loader builds it.
    func testTheTrainerTrainsOnTheMixedBatch() throws {
        let mixup = Mixup(alpha: 4, probability: 1), spec = spec(mixup: mixup)
        let draw = try XCTUnwrap(BatchMixer(mixup, seed: 3, fold: 0).draw(epoch: 0, index: 0, count: 8))
        XCTAssertEqual(Double(draw.lambda), 0.5, accuracy: 0.45, "premise: λ mixes visibly")
        let loader = ChipLoader(chips: Array(try TrainerBehaviourTests.sampleChips()[0..<8]), bands: .rgb, options: LoaderOptions(
            batchSize: 8, inputSize: 32, workers: 1, shuffle: true, dropLast: false, seed: ChipLoader.mix(3, 0), augmentation: .none,
            normalization: TrainerBehaviourTests.statistics))
        let batch = try XCTUnwrap(try loader.epoch(0).next())
        let mixed = BatchMixer.mix(batch, draw)
        let model = try FoldTrainer.makeModel(spec, bands: 3, observer: nil)
        func bce(_ batch: Batch) -> Double {
            let targets = batch.targets!, n = batch.count
            let rows = (0..<PlanetLabels.count).map { l in (0..<n).map { Double(targets.scalars[l * n + $0]) } }
            return TrainerBehaviourTests.handBCE(logits: model.forward(batch.input, mode: .training), targets: rows,
                                                 positiveWeights: [Double](repeating: 1, count: PlanetLabels.count))
        }
        let expected = bce(mixed), unmixed = bce(batch)
        // BCE is linear in the targets and a permutation keeps each label's mass, so with a fresh
        // network's near-constant logits the mixed loss is close to the unmixed one; still 20 times
        // the tolerance away.
        let tolerance = 2e-6 * expected
        XCTAssertGreaterThan(abs(expected - unmixed), 20 * tolerance, "premise: mixing changes the loss")
        let (outcome, _) = try run(spec, TestFolder())
        XCTAssertEqual(outcome.history[0].trainLoss, expected, accuracy: tolerance)
    }

    /// Probability 0 trains exactly as no mixup (the same weights, bit for bit); probability 1 does
    /// not; a run stopped after epoch 1 and resumed mixes epoch 2 as an uninterrupted run does.
    func testProbabilityZeroAndResumedRuns() throws {
        let (_, plain) = try run(spec(mixup: nil), TestFolder())
        let (_, never) = try run(spec(mixup: Mixup(alpha: 0.2, probability: 0)), TestFolder())
        XCTAssertEqual(never, plain)

        let mixing = spec(epochs: 2, mixup: Mixup(alpha: 4, probability: 1))
        let (whole, wholeWeights) = try run(mixing, TestFolder())
        let pieces = TestFolder()
        let (first, firstWeights) = try run(mixing, pieces, epochsThisCall: 1)
        XCTAssertEqual(first.history.count, 1)
        XCTAssertNotEqual(firstWeights, plain, "mixed batches train otherwise")
        let (resumed, resumedWeights) = try run(mixing, pieces)
        XCTAssertEqual(resumed.history.map(\.trainLoss), whole.history.map(\.trainLoss))
        XCTAssertEqual(resumedWeights, wholeWeights)
    }
}
