import Tensor

/// What resuming training needs, in one safetensors file written atomically (so a kill at any moment
/// leaves either the previous state or the new one):
///
///     model.<name>           every parameter and buffer (torchvision names; int64 buffers as I64)
///     optimizer.<name>       the optimiser's slots (`<parameter>.momentum_buffer`, `.exp_avg`, ...)
///     canopy.optimizer_step  (metadata) the optimiser's step count
///     <other>.<name>         the caller's own tensors (`extra`: a running weight average, ...)
///
/// and the caller's own metadata strings beside it (epoch, history, early-stopping state, ...).
public struct TrainingState {
    public static let optimizerStepKey = "canopy.optimizer_step"

    /// Every metadata string of the file: the caller's and `optimizerStepKey`.
    public let metadata: [String: String]
    let file: SafeTensorsFile
    let path: String

    /// The optimiser's step count; nil in a file that lacks it (incomplete).
    public var optimizerStep: Int? { Int(metadata[Self.optimizerStepKey] ?? "") }

    /// The stored tensors whose names start with `prefix` (a caller's `extra`), by the rest of the name.
    public func tensors(prefix: String) -> [String: StoredTensor] {
        var found: [String: StoredTensor] = [:]
        for (name, stored) in file.tensors where name.hasPrefix(prefix) { found[String(name.dropFirst(prefix.count))] = stored }
        return found
    }

    /// Loads the weights into `model` (strict: every name and shape must fit) and the slots and step
    /// into `optimizer`.
    public func restore(model: Layer, optimizer: Optimizer) throws(CheckpointError) {
        var weights = SafeTensorsFile(metadata: file.metadata)
        var slots: [String: Tensor] = [:]
        for (name, stored) in file.tensors {
            if name.hasPrefix("model.") { weights.tensors[String(name.dropFirst(6))] = stored }
            if name.hasPrefix("optimizer.") { slots[String(name.dropFirst(10))] = stored.tensor }
        }
        guard let step = optimizerStep else { throw CheckpointError(path: path, reason: "incomplete training state (no optimizer step)") }
        _ = try Checkpoint.apply(weights, to: model, path: path, strict: true)
        do { try optimizer.importState(tensors: slots, step: step) } catch {
            throw CheckpointError(path: path, reason: "\(error)")
        }
    }
}

extension Checkpoint {
    /// Writes `model`, `optimizer` and `metadata` as a `TrainingState` file, and the caller's `extra`
    /// tensors as they are named (with a prefix of their own: not `model.` nor `optimizer.`).
    public static func saveTrainingState(model: Layer, optimizer: Optimizer, metadata: [String: String],
                                         extra: [String: StoredTensor] = [:], to path: String) throws(CheckpointError) {
        precondition(!extra.keys.contains { $0.hasPrefix("model.") || $0.hasPrefix("optimizer.") }, "extra tensors need a prefix of their own")
        var tensors = extra
        for (name, entry) in model.state(prefix: "model.") {
            if case .buffer(let buffer) = entry, buffer.kind == .int64 {
                tensors[name] = StoredTensor(buffer.value, dtype: .i64)
            } else {
                tensors[name] = StoredTensor(entry.value)
            }
        }
        let exported = optimizer.exportState()
        for (name, tensor) in exported.tensors { tensors["optimizer." + name] = StoredTensor(tensor) }
        var metadata = metadata
        metadata[TrainingState.optimizerStepKey] = String(exported.step)
        try SafeTensorsFile(tensors: tensors, metadata: metadata).write(to: path)
    }

    /// Reads a `TrainingState` file; nothing is loaded until `restore`.
    public static func loadTrainingState(from path: String) throws(CheckpointError) -> TrainingState {
        let file = try SafeTensorsFile.read(path)
        return TrainingState(metadata: file.metadata, file: file, path: path)
    }
}
