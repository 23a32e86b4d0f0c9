import Foundation
import NN
import PlanetData
import Tensor

/// A model that cannot give usable probabilities.
public struct PredictionError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Probabilities for a list of chips from a model: batches from the loader (no augmentation, in
/// order), each batch run once per test-time symmetry and the sigmoid outputs averaged.
public struct Predictor {
    public var bands: BandSource
    public var statistics: NormalizationStatistics
    public var inputSize: Int
    public var batchSize: Int
    public var workers: Int
    public var onBadImage: BadImagePolicy

    public init(bands: BandSource, statistics: NormalizationStatistics, inputSize: Int, batchSize: Int = 32, workers: Int = 2,
                onBadImage: BadImagePolicy = .fail) {
        self.bands = bands
        self.statistics = statistics
        self.inputSize = inputSize
        self.batchSize = batchSize
        self.workers = workers
        self.onBadImage = onBadImage
    }

    /// The batch for prediction: at least the training batch, and about 128 x 64² pixels per batch.
    public static func inferenceBatch(training: Int, inputSize: Int) -> Int {
        max(training, min(128, 128 * 64 * 64 / (inputSize * inputSize)))
    }

    /// One row of 17 probabilities per chip, in `chips` order. A chip skipped under
    /// `on_bad_image: skip` gets a placeholder row of zeros and is in `skipped` (of
    /// `predictReportingSkips`): callers leave those rows out of every table and metric. `eachBatch` sees the identity
    /// pass's logits (validation loss).
    public func predict(_ model: Layer, chips: [DatasetChip], tta: TestTimeAugmentation,
                        progress: ((Int, Int) -> Void)? = nil,
                        eachBatch: ((Tensor, Batch) -> Void)? = nil) throws -> [[Float]] {
        try predictReportingSkips(model, chips: chips, tta: tta, progress: progress, eachBatch: eachBatch).probabilities
    }

    public func predictReportingSkips(_ model: Layer, chips: [DatasetChip], tta: TestTimeAugmentation,
                                      progress: ((Int, Int) -> Void)? = nil,
                                      eachBatch: ((Tensor, Batch) -> Void)? = nil) throws -> (probabilities: [[Float]], skipped: [SkippedChip]) {
        let loader = self.loader(for: chips)
        var rows = [[Float]](repeating: [Float](repeating: 0, count: PlanetLabels.count), count: chips.count)
        let batches = loader.epoch(0)
        var done = 0
        while let batch = try batches.next() {
            guard batch.count > 0 else { continue }
            let batchRows = try probabilityRows(model, batch: batch, tta: tta, identityLogits: eachBatch.map { each in { each($0, batch) } })
            for (row, chipIndex) in zip(batchRows, batch.chipIndices) { rows[chipIndex] = row }
            done += batch.count
            progress?(done, chips.count)
        }
        return (rows, loader.skipped)
    }

    /// The loader prediction reads from: `chips` in order, no augmentation, this predictor's batch.
    public func loader(for chips: [DatasetChip]) -> ChipLoader {
        ChipLoader(chips: chips, bands: bands, options: LoaderOptions(
            batchSize: batchSize, inputSize: inputSize, workers: workers, prefetch: 4, shuffle: false,
            augmentation: .none, normalization: statistics, onBadImage: onBadImage))
    }

    /// One row of 17 probabilities per chip of the batch, in batch order; a row that is not finite
    /// (weights holding NaN or infinity) is an error naming the chip.
    public func probabilityRows(_ model: Layer, batch: Batch, tta: TestTimeAugmentation,
                                identityLogits: ((Tensor) -> Void)? = nil) throws -> [[Float]] {
        let probabilities = self.probabilities(model, batch: batch, tta: tta, identityLogits: identityLogits)
        return try (0..<batch.count).map { column in
            let row = (0..<PlanetLabels.count).map { probabilities[$0 * batch.count + column] }
            guard row.allSatisfy(\.isFinite) else {
                throw PredictionError("the model's probabilities for \(batch.names[column]) are not finite: its weights hold NaN or infinity")
            }
            return row
        }
    }

    /// The sigmoid outputs for one batch averaged over the test-time symmetries, label-major: label
    /// k of the batch's chip j at `k * batch.count + j`. `identityLogits` sees the plain pass's logits.
    public func probabilities(_ model: Layer, batch: Batch, tta: TestTimeAugmentation,
                              identityLogits: ((Tensor) -> Void)? = nil) -> [Float] {
        let symmetries = tta.symmetries
        var sum = [Float](repeating: 0, count: PlanetLabels.count * batch.count)
        for symmetry in symmetries {
            let logits = model.forward(symmetry == .identity ? batch.input : symmetry.apply(batch.input), mode: .inference)
            if symmetry == .identity { identityLogits?(logits) }
            let probabilities = Activation.sigmoidForward(logits)
            for i in sum.indices { sum[i] += probabilities.scalars[i] }
        }
        let scale = 1 / Float(symmetries.count)
        for i in sum.indices { sum[i] *= scale }
        return sum
    }
}
