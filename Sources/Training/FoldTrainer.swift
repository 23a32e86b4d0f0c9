import Backbones
import Foundation
import NN
import PlanetData
import Tensor

/// Trains one model on one fold: epochs of shuffled, augmented batches, a validation pass after each,
/// early stopping on validation F2 or loss, and checkpoints in `folder`:
///
///     resume.safetensors   weights (`model.` + torchvision names), optimiser slots (`optimizer.`) and,
///                          in its metadata, the epoch, step, history and early-stopping state: one
///                          atomic file, so a kill at any moment leaves a consistent point to resume from
///     last.safetensors     the last epoch's weights (torchvision names, loadable by torch)
///     best.safetensors     the best epoch's weights (with `swa`: the average of the last epochs'
///                          weights, batch-norm statistics recomputed; `WeightAveraging.swift`)
///
/// `run` resumes from `resume.safetensors` (an `NN.TrainingState`; `ResumeState` is what the trainer
/// keeps in it) when it exists and was written for the same spec. Every random draw (batch order,
/// augmentation, dropout masks, mixup) is seeded by (seed, fold, epoch), so a run resumed after epoch e
/// continues exactly as one that never stopped.
///
/// The pieces: `TrainingLoop` (epochs, batches, events to the `TrainingObserver`), `NonFiniteGuard`
/// (`on_non_finite`), `LearningRatePlan` (`schedule`), `LossSpec.makeLoss` (`loss`), `validate`,
/// and `checkpoint(after:)` (best, last and resume files).
public final class FoldTrainer {
    public let spec: ModelSpec
    public let fold: Int
    public let folder: String
    public let train: [DatasetChip]
    public let validation: [DatasetChip]
    public let bands: BandSource
    public let statistics: NormalizationStatistics
    public var loaderWorkers = 2
    /// Bytes of decoded chips each training loader keeps across epochs (`LoaderOptions.cacheBytes`).
    public var loaderCacheBytes = 0
    public var onBadImage: BadImagePolicy = .fail
    /// Identifies the spec and data a checkpoint belongs to (the pipeline's stage hash).
    public var fingerprint: String
    /// Return after this many epochs in one call, leaving the rest to a later `run` (time-boxed runs).
    public var epochsThisCall: Int?
    /// `mode: data`: this process is one rank of a job that trains the model together (DataParallel.swift).
    public var dataParallel: DataParallel?
    /// Whether this process writes the checkpoints (false on the ranks other than 0 of a data-parallel
    /// job, which keep the same state in memory).
    public var writesFiles = true

    public init(spec: ModelSpec, fold: Int, folder: String, train: [DatasetChip], validation: [DatasetChip],
                bands: BandSource, statistics: NormalizationStatistics, fingerprint: String) {
        self.spec = spec
        self.fold = fold
        self.folder = folder
        self.train = train
        self.validation = validation
        self.bands = bands
        self.statistics = statistics
        self.fingerprint = fingerprint
    }

    var resumePath: String { folder + "/resume.safetensors" }
    public var bestPath: String { Self.bestPath(in: folder) }
    /// Where a fold's best weights are kept, in its folder.
    public static func bestPath(in folder: String) -> String { folder + "/best.safetensors" }
    public var lastPath: String { folder + "/last.safetensors" }

    /// A fresh model of this spec (initialised from the seed, then `initWeights` if given).
    public static func makeModel(_ spec: ModelSpec, bands: Int, observer: TrainingObserver?) throws -> Layer {
        var random = SeededRandom(seed: spec.seed)
        guard let model = BackboneRegistry.make(spec.backbone, bands: bands, classes: PlanetLabels.count, random: &random) else {
            throw TrainingError("unknown backbone \"\(spec.backbone)\" (known: \(BackboneRegistry.names.joined(separator: ", ")))")
        }
        if let path = spec.initWeights {
            do {
                let report = try WeightTransfer.load(path, into: model)
                observer?.note("\(spec.name): weights from \(path): \(report.description.replacingOccurrences(of: "\n", with: "; "))")
            } catch { throw TrainingError(error.description) }
        }
        return model
    }

    public func run(observer: TrainingObserver?) throws -> FoldOutcome {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let model = try Self.makeModel(spec, bands: bands.bandCount, observer: observer)
        let optimizer = makeOptimizer()
        let loader = trainingLoader(inputSize: spec.inputSize)
        var state = ResumeState()
        if let resumed = try resumeState(model: model, optimizer: optimizer) {
            state = resumed
            observer?.resumed(model: spec.name, fold: fold, afterEpoch: state.history.count, epochs: spec.epochs)
        }
        var loop = makeLoop(model: model, optimizer: optimizer, loader: loader, policy: spec.onNonFinite, observer: observer, state: state)
        if let dataParallel {
            // Every rank starts from rank 0's weights (the same seed or resume file makes them so; this makes sure).
            try dataParallel.broadcastState(of: model)
            loop.buckets = GradientBuckets(model: model, parallel: dataParallel)
        }
        try loop.run(epochs: epochsThisCall ?? .max)
        try loop.finishAveraging()
        return FoldOutcome(history: loop.state.history, bestEpoch: loop.state.bestEpoch, stoppedEarly: loop.state.stopped,
                           averaged: loop.state.averaged)
    }

    /// The training loop of `model` from `state` (its learning rates replayed from the history).
    func makeLoop(model: Layer, optimizer: Optimizer, loader: ChipLoader, policy: ModelSpec.NonFinitePolicy,
                  observer: TrainingObserver?, state: ResumeState) -> TrainingLoop {
        TrainingLoop(trainer: self, model: model, optimizer: optimizer, loader: loader, loaders: [spec.inputSize: loader],
                     loss: spec.loss.makeLoss(training: train),
                     rates: LearningRatePlan(spec: spec, stepsPerEpoch: loader.batchesPerEpoch, history: state.history),
                     nonFinite: NonFiniteGuard(policy: policy, place: "\(spec.name) fold \(fold)"), observer: observer, state: state)
    }

    /// The training chips' loader at `inputSize` (the epoch's order and augmentation draws depend on
    /// the seed, fold and epoch alone, not the size).
    func trainingLoader(inputSize: Int) -> ChipLoader {
        ChipLoader(chips: spec.oversampleRare?.expand(train) ?? train, bands: bands, options: LoaderOptions(
            batchSize: spec.batchSize, inputSize: inputSize, workers: loaderWorkers, prefetch: 4, shuffle: true,
            dropLast: train.count > spec.batchSize, seed: ChipLoader.mix(spec.seed, UInt64(fold)), augmentation: spec.augmentation,
            normalization: statistics, onBadImage: onBadImage, shard: dataParallel?.shard,
            epochChips: spec.oversampleRare?.drawnPerEpoch(train), cacheBytes: loaderCacheBytes))
    }

    func makeOptimizer() -> Optimizer {
        let o = spec.optimizer
        switch o.kind {
        case .sgd: return SGD(learningRate: o.learningRate, momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay)
        case .adam: return Adam(learningRate: o.learningRate, weightDecay: o.weightDecay)
        case .adamw: return Adam.adamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        }
    }
}
