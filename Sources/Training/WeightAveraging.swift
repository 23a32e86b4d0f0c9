import Foundation
import NN
import PlanetData
import Tensor

/// A model's `swa: {epochs: N}`: stochastic weight averaging along the run. The weights after each of
/// the last N epochs are averaged (equal weights), the batch-norm statistics of the average are
/// recomputed on the training chips, and that model is the fold's `best.safetensors`: the one its
/// predictions use. There is no best epoch to pick, so it cannot go with `early_stopping`.
public struct WeightAveraging: Codable, Sendable, Equatable, ValidatedSettings {
    /// How many of the last epochs are averaged (at most the model's `epochs`).
    public var epochs: Int

    public init(epochs: Int) {
        self.epochs = epochs
    }

    enum CodingKeys: String, SettingKeys { case epochs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.require(.epochs, "missing epochs (how many of the last epochs to average)")
        self.init(epochs: try c.decode(Int.self, forKey: .epochs))
    }

    public func validate() throws(SettingError) {
        try SettingError.check(epochs, in: 1...10_000, "epochs")
    }

    /// Whether the weights after `epoch` (from 1) of a run of `total` epochs are averaged.
    public func averages(epoch: Int, of total: Int) -> Bool { epoch > total - epochs }

    /// The rules between `swa` and the model's other settings (ModelSpec's `validate()`).
    static func check(_ spec: ModelSpec) throws(SettingError) {
        guard let swa = spec.swa else { return }
        if swa.epochs > spec.epochs {
            throw SettingError(["swa", "epochs"], "\(swa.epochs) is more than the model's \(spec.epochs) epochs")
        }
        if spec.earlyStopping != nil {
            throw SettingError(["swa"], "swa and early_stopping cannot be used together (swa predicts with the average of the "
                               + "last epochs, early_stopping with the best epoch): remove one")
        }
    }
}

/// What the averaged weights scored on the validation chips, once their batch-norm statistics were
/// recomputed: the model a fold with `swa` predicts with (in `fold.json` beside the epochs' history).
public struct AveragedRecord: Codable, Sendable, Equatable {
    /// The epochs averaged, from 1.
    public var firstEpoch: Int
    public var lastEpoch: Int
    public var validationLoss: Double
    /// At the best global threshold of the validation grid, as an epoch's.
    public var validationMeanF2: Double
    public var validationThreshold: Float
    /// Training batches the batch-norm statistics were recomputed from (0: the model has no batch norm).
    public var batchNormBatches: Int
    public var seconds: Double
}

/// The running mean of a model's state (parameters and float buffers, batch-norm running statistics
/// included) over the epochs added so far, in Float as PyTorch's `AveragedModel` keeps it:
/// mean += (value − mean) / n. Integer buffers (`num_batches_tracked`) are the last one added.
struct WeightAverage: Equatable {
    private(set) var count = 0
    /// By state name (torchvision names).
    private(set) var tensors: [String: Tensor] = [:]
    /// The names of integer buffers, taken from the last epoch added, not averaged.
    private(set) var counters: Set<String> = []

    /// Prefix of the average's tensors in `resume.safetensors`.
    static let resumePrefix = "swa."
    static let countKey = "canopy.swa_count"

    init() {}

    /// As stored in a resume file (`stored`: the tensors without their prefix).
    init(count: Int, stored: [String: StoredTensor]) {
        self.count = count
        tensors = stored.mapValues(\.tensor)
        counters = Set(stored.filter { $0.value.dtype == .i64 }.keys)
    }

    /// The tensors to keep in a resume file, prefixed.
    var stored: [String: StoredTensor] {
        var out: [String: StoredTensor] = [:]
        for (name, tensor) in tensors { out[Self.resumePrefix + name] = StoredTensor(tensor, dtype: counters.contains(name) ? .i64 : .f32) }
        return out
    }

    /// Adds the model's current state.
    mutating func add(_ model: Layer) {
        count += 1
        let n = Float(count)
        for (name, entry) in model.state(prefix: "") {
            let value = entry.value
            if case .buffer(let buffer) = entry, buffer.kind == .int64 {
                tensors[name] = value
                counters.insert(name)
                continue
            }
            guard count > 1, var mean = tensors.removeValue(forKey: name) else {
                tensors[name] = value
                continue
            }
            precondition(mean.shape == value.shape, "\(name): the averaged shape \(mean.shape) is not the model's \(value.shape)")
            mean.scalars.withUnsafeMutableBufferPointer { m in
                value.scalars.withUnsafeBufferPointer { v in
                    for i in m.indices { m[i] += (v[i] - m[i]) / n }
                }
            }
            tensors[name] = mean
        }
    }

    /// Sets every parameter and buffer of `model` to the average; an error (and `model` untouched)
    /// when the average does not hold exactly the model's tensors.
    func apply(to model: Layer) throws {
        let entries = model.state(prefix: "")
        let names = Set(entries.map(\.name))
        for (name, entry) in entries where tensors[name]?.shape != entry.value.shape {
            throw TrainingError("the weight average has no tensor \(name) of shape \(entry.value.shape)")
        }
        if let extra = tensors.keys.first(where: { !names.contains($0) }) {
            throw TrainingError("the weight average has a tensor \(extra) the model does not")
        }
        for (name, entry) in entries {
            switch entry {
            case .parameter(let parameter): parameter.value = tensors[name]!
            case .buffer(let buffer): buffer.value = tensors[name]!
            }
        }
    }

    /// PyTorch's `torch.optim.swa_utils.update_bn`: every batch-norm layer's running statistics
    /// reset, then recomputed as the plain mean over the batches `next` gives of each batch's mean
    /// and (unbiased) variance, by forward passes in training mode (no gradient, no optimiser step).
    /// Returns how many batches were used (an error when there were none); none are read when the
    /// model has no batch norm.
    static func recomputeBatchNorm(_ model: Layer, batches next: () throws -> Tensor?) throws -> Int {
        var layers: [BatchNorm] = []
        model.forEachLayer { if let layer = $0 as? BatchNorm { layers.append(layer) } }
        guard !layers.isEmpty else { return 0 }
        for layer in layers {
            layer.resetRunningStatistics()
            layer.cumulativeAverage = true
        }
        defer { for layer in layers { layer.cumulativeAverage = false } }
        var count = 0
        while let input = try next() {
            _ = model.forward(input, mode: .training)
            count += 1
        }
        guard count > 0 else { throw TrainingError("no training batch to recompute the batch-norm statistics from") }
        return count
    }
}

extension TrainingLoop {
    /// After the last epoch of a model with `swa`: the average of the last epochs becomes the model
    /// (the training model itself: `resume.safetensors` and `last.safetensors` keep the last
    /// epoch's weights), its batch-norm statistics are recomputed over one pass of the training
    /// loader (an extra epoch `spec.epochs`: its shuffle, augmentation and dropout masks are
    /// seeded, as every epoch's), it is validated and written as `best.safetensors`. Done again,
    /// to the same bytes, by a call that finds the run already trained.
    mutating func finishAveraging() throws {
        guard let swa = spec.swa, state.history.count == spec.epochs, !state.stopped else { return }
        let place = "\(spec.name) fold \(fold)"
        guard let average = state.average, average.count == swa.epochs else {
            throw TrainingError("\(place): the weight average holds \(state.average?.count ?? 0) epochs, not swa.epochs \(swa.epochs) "
                                + "(delete resume.safetensors to start this fold over)")
        }
        let started = Date()
        try average.apply(to: model)
        reseedDropout(epoch: spec.epochs)
        let batches = loader.epoch(spec.epochs)
        let used: Int
        do {
            used = try WeightAverage.recomputeBatchNorm(model) {
                while let batch = try batches.next() { if batch.count > 0 { return batch.input } }
                return nil
            }
        } catch let error as TrainingError { throw TrainingError("\(place), averaged weights: \(error)") }
        let validation: (loss: Double, meanF2: Double, threshold: Float)
        do { validation = try trainer.validate(model) } catch let error as PredictionError {
            throw TrainingError("\(place), averaged weights: \(error)")
        }
        guard validation.loss.isFinite, validation.meanF2.isFinite else {
            throw TrainingError("\(place): the validation loss of the averaged weights is \(validation.loss); not writing best.safetensors")
        }
        try trainer.save(model, to: trainer.bestPath)
        let record = AveragedRecord(firstEpoch: spec.epochs - swa.epochs + 1, lastEpoch: spec.epochs, validationLoss: validation.loss,
                                    validationMeanF2: validation.meanF2, validationThreshold: validation.threshold,
                                    batchNormBatches: used, seconds: Date().timeIntervalSince(started))
        state.averaged = record
        state.bestEpoch = spec.epochs
        observer?.averaged(model: spec.name, fold: fold, record: record)
    }
}
