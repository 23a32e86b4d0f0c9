import Backbones
import Evaluation
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
///     best.safetensors     the best epoch's weights
///
/// `run` resumes from `resume.safetensors` when it exists and was written for the same spec. Every
/// random draw (batch order, augmentation, dropout masks) is seeded by (seed, fold, epoch), so a run
/// resumed after epoch e continues exactly as one that never stopped.
public final class FoldTrainer {
    public let spec: ModelSpec
    public let fold: Int
    public let folder: String
    public let train: [DatasetChip]
    public let validation: [DatasetChip]
    public let bands: BandSource
    public let statistics: NormalizationStatistics
    public var loaderWorkers = 2
    public var onBadImage: BadImagePolicy = .fail
    /// Identifies the spec and data a checkpoint belongs to (the pipeline's stage hash).
    public var fingerprint: String
    /// Return after this many epochs in one call, leaving the rest to a later `run` (time-boxed runs).
    public var epochsThisCall: Int?

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
        let loader = ChipLoader(chips: train, bands: bands, options: LoaderOptions(
            batchSize: spec.batchSize, inputSize: spec.inputSize, workers: loaderWorkers, prefetch: 4, shuffle: true,
            dropLast: train.count > spec.batchSize, seed: ChipLoader.mix(spec.seed, UInt64(fold)), augmentation: spec.augmentation,
            normalization: statistics, onBadImage: onBadImage))
        let stepsPerEpoch = loader.batchesPerEpoch
        let trainingLoss = spec.loss.makeLoss(training: train)

        var state = ResumeState()
        if let resumed = try loadResumeState(model: model, optimizer: optimizer) {
            state = resumed
            observer?.note("\(spec.name) fold \(fold): resuming after epoch \(state.history.count) of \(spec.epochs)")
        }
        var plateau = plateauSchedule()
        for record in state.history { _ = plateau?.record(metric: Float(record.validationLoss)) }

        var epochsRun = 0, skippedBatches = 0
        while state.history.count < spec.epochs && !state.stopped && epochsRun < (epochsThisCall ?? .max) {
            epochsRun += 1
            let epoch = state.history.count
            let started = Date()
            reseedDropout(model, epoch: epoch)
            let batches = loader.epoch(epoch)
            var lossSum = 0.0, seen = 0
            var batchIndex = 0
            var learningRate = optimizer.learningRate
            while let batch = try batches.next() {
                guard batch.count > 0 else { continue }  // every chip of it skipped under on_bad_image: skip
                learningRate = rate(step: state.step, epoch: epoch, stepsPerEpoch: stepsPerEpoch, plateau: plateau)
                optimizer.learningRate = learningRate
                let logits = model.forward(batch.input, mode: .training)
                let (loss, gradient) = trainingLoss.lossAndGradient(logits: logits, targets: batch.targets!)
                var problem: String?
                if !loss.isFinite {
                    problem = "the loss became \(loss)" + (firstNonFiniteValue(model).map { " (\($0) is not finite)" } ?? "")
                } else {
                    model.zeroGradients()
                    _ = model.backward(gradient)
                    if let clip = spec.clipGradientNorm, clipGradients(model.parameters, maxNorm: clip).isFinite {
                        // clipped; a finite norm means every gradient is finite
                    } else if let bad = firstNonFiniteGradient(model) {
                        problem = "the gradient of \(bad) is not finite"
                    }
                }
                if let problem {
                    let place = "\(spec.name) fold \(fold): \(problem) at epoch \(epoch + 1), batch \(batchIndex + 1)"
                    guard spec.onNonFinite == .skipBatch, skippedBatches < Self.maximumSkippedBatches else {
                        throw TrainingError(place + (spec.onNonFinite == .skipBatch ? " (\(skippedBatches) batches skipped already)" : "")
                                            + "; lower the learning rate or clip gradients")
                    }
                    skippedBatches += 1
                    model.zeroGradients()
                    observer?.note(place + ": batch skipped")
                    batchIndex += 1
                    continue
                }
                optimizer.step(model.namedParameters)
                state.step += 1
                lossSum += Double(loss) * Double(batch.count)
                seen += batch.count
                batchIndex += 1
                observer?.batchEnded(model: spec.name, fold: fold, epoch: epoch, batch: batchIndex, batches: stepsPerEpoch,
                                     loss: Float(lossSum / Double(max(seen, 1))), imagesPerSecond: Double(seen) / Date().timeIntervalSince(started))
            }
            let trainSeconds = Date().timeIntervalSince(started)
            if let bad = firstNonFiniteValue(model) {
                throw TrainingError("\(spec.name) fold \(fold): \(bad) is not finite after epoch \(epoch + 1) (\(skippedBatches) batches skipped); not writing a checkpoint")
            }
            let validationLoss: Double, validationF2: Double, threshold: Float
            do { (validationLoss, validationF2, threshold) = try validate(model) } catch let error as PredictionError {
                throw TrainingError("\(spec.name) fold \(fold), epoch \(epoch + 1) (\(skippedBatches) batches skipped): \(error); not writing a checkpoint")
            }
            // A validation loss that is not finite (logits overflowing while the weights stay finite) ends
            // the run under either policy (skip_batch skips training batches only): it would be the
            // epoch's record, and nothing non-finite is written.
            guard validationLoss.isFinite, validationF2.isFinite else {
                throw TrainingError("\(spec.name) fold \(fold): the validation loss became \(validationLoss.isNaN ? "nan" : "\(validationLoss)") at epoch \(epoch + 1) "
                                    + "(\(skippedBatches) batches skipped); lower the learning rate or clip gradients; not writing a checkpoint")
            }
            _ = plateau?.record(metric: Float(validationLoss))
            let record = EpochRecord(epoch: epoch + 1, trainLoss: lossSum / Double(max(seen, 1)), validationLoss: validationLoss,
                                     validationMeanF2: validationF2, validationThreshold: threshold, learningRate: learningRate,
                                     seconds: Date().timeIntervalSince(started), loaderWaitSeconds: batches.waitSeconds,
                                     imagesPerSecond: Double(seen) / trainSeconds)
            state.history.append(record)
            let improved = state.bestEpoch == 0 || isBetter(record, than: state.history[state.bestEpoch - 1])
            if improved {
                state.bestEpoch = record.epoch
                try save(model, to: bestPath)
            }
            if let stopping = spec.earlyStopping, record.epoch - state.bestEpoch >= stopping.patience {
                state.stopped = true
            }
            try save(model, to: lastPath)
            try saveResumeState(state, model: model, optimizer: optimizer)
            observer?.epochEnded(model: spec.name, fold: fold, record: record, epochs: spec.epochs)
        }
        return FoldOutcome(history: state.history, bestEpoch: state.bestEpoch, stoppedEarly: state.stopped)
    }

    // MARK: - Pieces of a step

    func makeOptimizer() -> Optimizer {
        let o = spec.optimizer
        switch o.kind {
        case .sgd: return SGD(learningRate: o.learningRate, momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay)
        case .adam: return Adam(learningRate: o.learningRate, weightDecay: o.weightDecay)
        case .adamw: return Adam.adamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        }
    }

    func plateauSchedule() -> ReduceOnPlateau? {
        guard case .plateau(let factor, let patience) = spec.schedule else { return nil }
        return ReduceOnPlateau(learningRate: spec.optimizer.learningRate, factor: factor, patience: patience)
    }

    func rate(step: Int, epoch: Int, stepsPerEpoch: Int, plateau: ReduceOnPlateau?) -> Float {
        let base = spec.optimizer.learningRate, total = max(spec.epochs * stepsPerEpoch, 1)
        switch spec.schedule {
        case .constant: return base
        case .step(let every, let gamma): return LearningRateSchedule.step(stepSize: every, gamma: gamma).learningRate(base: base, at: epoch)
        case .cosine(let warmupEpochs):
            return LearningRateSchedule.cosine(warmupSteps: warmupEpochs * stepsPerEpoch, totalSteps: total, minimum: 0,
                                               warmupStartFactor: 0.1).learningRate(base: base, at: step)
        case .oneCycle: return LearningRateSchedule.oneCycle(totalSteps: total).learningRate(base: base, at: min(step, total - 1))
        case .plateau: return plateau?.learningRate ?? base
        }
    }

    /// A run that keeps producing non-finite values is diverging: stop after this many skipped batches.
    static let maximumSkippedBatches = 20

    func firstNonFiniteValue(_ model: Layer) -> String? {
        for (name, entry) in model.state(prefix: "") where !entry.value.scalars.allSatisfy(\.isFinite) { return name }
        return nil
    }

    func firstNonFiniteGradient(_ model: Layer) -> String? {
        for (name, parameter) in model.namedParameters where !parameter.gradient.scalars.allSatisfy(\.isFinite) { return name }
        return nil
    }

    func reseedDropout(_ model: Layer, epoch: Int) {
        var index: UInt64 = 0
        model.forEachLayer { layer in
            if let dropout = layer as? Dropout {
                dropout.reseed(ChipLoader.mix(spec.seed, UInt64(fold), UInt64(epoch), index))
                index += 1
            }
        }
    }

    func isBetter(_ a: EpochRecord, than b: EpochRecord) -> Bool {
        switch spec.earlyStopping?.metric ?? .f2 {
        case .f2: a.validationMeanF2 > b.validationMeanF2
        case .loss: a.validationLoss < b.validationLoss
        }
    }

    // MARK: - Validation

    /// 0.05, 0.10, ..., 0.95: coarse, as befits a per-epoch figure.
    static let validationGrid: [Float] = (1...19).map { Float($0) * 0.05 }

    /// Mean BCE and mean F2 (at the best threshold of `validationGrid`) on the validation chips that decode.
    func validate(_ model: Layer) throws -> (loss: Double, meanF2: Double, threshold: Float) {
        let predictor = Predictor(bands: bands, statistics: statistics, inputSize: spec.inputSize, batchSize: spec.batchSize,
                                  workers: loaderWorkers, onBadImage: onBadImage)
        var lossSum = 0.0, count = 0
        let result = try predictor.predictReportingSkips(model, chips: validation, tta: .none, eachBatch: { logits, batch in
            if let targets = batch.targets {
                lossSum += Double(BinaryCrossEntropy().lossAndGradient(logits: logits, targets: targets).loss) * Double(batch.count)
                count += batch.count
            }
        })
        // A chip that did not decode (on_bad_image: skip) has no prediction: it is left out of the F2.
        let left = Set(result.skipped.map(\.name))
        let kept = validation.indices.filter { !left.contains(validation[$0].name) }
        let probabilities = kept.map { result.probabilities[$0] }
        let truth = kept.map { validation[$0].labels ?? LabelSet() }
        let best = ThresholdSearch.global(probabilities: probabilities, truth: truth, grid: Self.validationGrid)
        return (lossSum / Double(max(count, 1)), best.meanF2, best.threshold)
    }

    // MARK: - Checkpoints

    struct ResumeState {
        var history: [EpochRecord] = []
        var step = 0
        var bestEpoch = 0
        var stopped = false
    }

    func save(_ model: Layer, to path: String) throws {
        if let bad = firstNonFiniteValue(model) {
            throw TrainingError("\(spec.name) fold \(fold): \(bad) is not finite; not writing a checkpoint to \(path)")
        }
        do { try Checkpoint.save(model, to: path, metadata: ["canopy.model": spec.name, "canopy.fold": String(fold)]) } catch {
            throw TrainingError(error.description)
        }
    }

    func saveResumeState(_ state: ResumeState, model: Layer, optimizer: Optimizer) throws {
        var tensors: [String: StoredTensor] = [:]
        for (name, entry) in model.state(prefix: "model.") {
            if case .buffer(let buffer) = entry, buffer.kind == .int64 {
                tensors[name] = StoredTensor(buffer.value, dtype: .i64)
            } else {
                tensors[name] = StoredTensor(entry.value)
            }
        }
        let exported = optimizer.exportState()
        for (name, tensor) in exported.tensors { tensors["optimizer." + name] = StoredTensor(tensor) }
        let history = String(decoding: try JSONEncoder().encode(state.history), as: UTF8.self)
        let metadata = ["canopy.fingerprint": fingerprint, "canopy.step": String(state.step), "canopy.optimizer_step": String(exported.step),
                        "canopy.best_epoch": String(state.bestEpoch), "canopy.stopped": String(state.stopped), "canopy.history": history]
        do { try SafeTensorsFile(tensors: tensors, metadata: metadata).write(to: resumePath) } catch { throw TrainingError(error.description) }
    }

    /// The saved state, loaded into `model` and `optimizer`; nil when there is none or it belongs to
    /// another spec (then training starts over).
    func loadResumeState(model: Layer, optimizer: Optimizer) throws -> ResumeState? {
        guard FileManager.default.fileExists(atPath: resumePath) else { return nil }
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile.read(resumePath) } catch { throw TrainingError("\(error) (delete it to start this fold over)") }
        guard file.metadata["canopy.fingerprint"] == fingerprint else { return nil }
        var weights = SafeTensorsFile(metadata: file.metadata)
        var slots: [String: Tensor] = [:]
        for (name, stored) in file.tensors {
            if name.hasPrefix("model.") { weights.tensors[String(name.dropFirst(6))] = stored }
            if name.hasPrefix("optimizer.") { slots[String(name.dropFirst(10))] = stored.tensor }
        }
        guard let step = Int(file.metadata["canopy.step"] ?? ""), let optimizerStep = Int(file.metadata["canopy.optimizer_step"] ?? ""),
              let bestEpoch = Int(file.metadata["canopy.best_epoch"] ?? ""),
              let historyText = file.metadata["canopy.history"],
              let history = try? JSONDecoder().decode([EpochRecord].self, from: Data(historyText.utf8)) else {
            throw TrainingError("\(resumePath): incomplete training state (delete it to start this fold over)")
        }
        do {
            _ = try Checkpoint.apply(weights, to: model, path: resumePath, strict: true)
            try optimizer.importState(tensors: slots, step: optimizerStep)
        } catch let error as CheckpointError {
            throw TrainingError(error.description)
        } catch {
            throw TrainingError("\(resumePath): \(error)")
        }
        return ResumeState(history: history, step: step, bestEpoch: bestEpoch, stopped: file.metadata["canopy.stopped"] == "true")
    }
}
