import Foundation
import NN

/// Where a fold's training stands after an epoch: what `resume.safetensors` keeps beside the weights
/// and optimiser state (`NN.TrainingState`), as metadata strings. The keys are those of the first
/// format, so a resume file written by an older Canopy still resumes.
struct ResumeState: Equatable {
    var history: [EpochRecord] = []
    /// Optimiser steps taken over the whole run (the schedules' clock).
    var step = 0
    /// The best epoch so far (from 1; 0 before the first).
    var bestEpoch = 0
    /// Early stopping has ended the run.
    var stopped = false
    /// With `swa`: the running average of the epochs averaged so far (its tensors are kept in the
    /// resume file beside the weights, its count in the metadata).
    var average: WeightAverage?
    /// With `swa`, once the run is trained: what the averaged weights scored (made again by each
    /// call that finds the run trained, so not kept in the file).
    var averaged: AveragedRecord?

    static let fingerprintKey = "canopy.fingerprint"

    init() {}

    /// The state from a resume file's metadata; nil when a key is missing or unreadable.
    init?(metadata: [String: String]) {
        guard let step = Int(metadata["canopy.step"] ?? ""), let bestEpoch = Int(metadata["canopy.best_epoch"] ?? ""),
              let historyText = metadata["canopy.history"],
              let history = try? JSONDecoder().decode([EpochRecord].self, from: Data(historyText.utf8)) else { return nil }
        self.history = history
        self.step = step
        self.bestEpoch = bestEpoch
        self.stopped = metadata["canopy.stopped"] == "true"
        if let count = metadata[WeightAverage.countKey] {
            guard let count = Int(count) else { return nil }
            average = WeightAverage(count: count, stored: [:])
        }
    }

    /// The metadata strings for a resume file of the spec and data `fingerprint` names.
    func metadata(fingerprint: String) throws -> [String: String] {
        let history = String(decoding: try JSONEncoder().encode(history), as: UTF8.self)
        var metadata = [Self.fingerprintKey: fingerprint, "canopy.step": String(step), "canopy.best_epoch": String(bestEpoch),
                        "canopy.stopped": String(stopped), "canopy.history": history]
        if let average { metadata[WeightAverage.countKey] = String(average.count) }
        return metadata
    }
}

extension FoldTrainer {
    /// After epoch `record`: the best weights if it is the best so far, early stopping, the last
    /// weights, and the resume point (in that order, so a resume point never precedes its weights).
    /// With `swa` there is no best epoch: the weights are added to the average instead when the
    /// epoch is one of those averaged, and best.safetensors is the average (`finishAveraging`).
    func checkpoint(after record: EpochRecord, state: inout ResumeState, model: Layer, optimizer: Optimizer) throws {
        // Without validation chips (a refit on every chip) the last epoch is the one kept.
        if let swa = spec.swa {
            if swa.averages(epoch: record.epoch, of: spec.epochs) {
                var average = state.average ?? WeightAverage()
                state.average = nil  // one copy of the tensors while adding
                average.add(model)
                state.average = average
            }
        } else if state.bestEpoch == 0 || validation.isEmpty || isBetter(record, than: state.history[state.bestEpoch - 1]) {
            state.bestEpoch = record.epoch
            try save(model, to: bestPath)
        }
        if let stopping = spec.earlyStopping, record.epoch - state.bestEpoch >= stopping.patience {
            state.stopped = true
        }
        try save(model, to: lastPath)
        guard writesFiles else { return }
        do {
            try Checkpoint.saveTrainingState(model: model, optimizer: optimizer, metadata: try state.metadata(fingerprint: fingerprint),
                                             extra: state.average?.stored ?? [:], to: resumePath)
        } catch let error as CheckpointError { throw TrainingError(error.description) }
    }

    /// Whether epoch record `a` beats the best so far, `b`. Under `progressive_resizing` epochs were
    /// validated at their own sizes: an epoch at the model's size (the one it predicts at) beats any
    /// at a smaller size, and a smaller size's never beats it.
    func isBetter(_ a: EpochRecord, than b: EpochRecord) -> Bool {
        let atModelSize = { (record: EpochRecord) in self.spec.trainingInputSize(epoch: record.epoch - 1) == self.spec.inputSize }
        if atModelSize(a) != atModelSize(b) { return atModelSize(a) }
        return switch spec.earlyStopping?.metric ?? .f2 {
        case .f2: a.validationMeanF2 > b.validationMeanF2
        case .loss: a.validationLoss < b.validationLoss
        }
    }

    /// Weights alone (torchvision names), refused when any is not finite.
    func save(_ model: Layer, to path: String) throws {
        guard writesFiles else { return }
        if let bad = NonFiniteGuard.firstNonFiniteValue(model) {
            throw TrainingError("\(spec.name) fold \(fold): \(bad) is not finite; not writing a checkpoint to \(path)")
        }
        do { try Checkpoint.save(model, to: path, metadata: ["canopy.model": spec.name, "canopy.fold": String(fold)]) } catch {
            throw TrainingError(error.description)
        }
    }

    /// The saved state, loaded into `model` and `optimizer`; nil when there is none or it belongs to
    /// another spec (then training starts over).
    func resumeState(model: Layer, optimizer: Optimizer) throws -> ResumeState? {
        guard FileManager.default.fileExists(atPath: resumePath) else { return nil }
        let stored: TrainingState
        do { stored = try Checkpoint.loadTrainingState(from: resumePath) } catch {
            throw TrainingError("\(error) (delete it to start this fold over)")
        }
        guard stored.metadata[ResumeState.fingerprintKey] == fingerprint else { return nil }
        guard stored.optimizerStep != nil, var state = ResumeState(metadata: stored.metadata) else {
            throw TrainingError("\(resumePath): incomplete training state (delete it to start this fold over)")
        }
        if let count = state.average?.count {
            state.average = WeightAverage(count: count, stored: stored.tensors(prefix: WeightAverage.resumePrefix))
        }
        do { try stored.restore(model: model, optimizer: optimizer) } catch { throw TrainingError(error.description) }
        return state
    }
}
