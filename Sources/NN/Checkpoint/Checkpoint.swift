import Tensor

/// Model and training checkpoints in safetensors, named as torchvision's state_dict, so weights move
/// between Canopy and PyTorch in both directions.
public enum Checkpoint {
    /// What loading applied, by tensor name.
    public struct LoadReport: Equatable, Sendable, CustomStringConvertible {
        public var loaded: [String] = []
        /// In the model, not in the file: left as they were.
        public var missing: [String] = []
        /// In the file, not in the model: ignored.
        public var unexpected: [String] = []
        /// In both with different shapes: left as they were.
        public var mismatched: [(name: String, model: [Int], file: [Int])] = []

        public static func == (a: Self, b: Self) -> Bool {
            a.loaded == b.loaded && a.missing == b.missing && a.unexpected == b.unexpected
                && a.mismatched.map { "\($0)" } == b.mismatched.map { "\($0)" }
        }

        public var description: String {
            var lines = ["loaded \(loaded.count) tensors"]
            if !missing.isEmpty { lines.append("missing from the file (left as initialised): \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { lines.append("not in the model (ignored): \(unexpected.joined(separator: ", "))") }
            for item in mismatched { lines.append("shape mismatch \(item.name): model \(item.model), file \(item.file)") }
            return lines.joined(separator: "\n")
        }
    }

    /// Writes every parameter and buffer of `model` (int64 buffers as I64, like PyTorch).
    public static func save(_ model: Layer, to path: String, metadata: [String: String] = [:]) throws(CheckpointError) {
        var file = SafeTensorsFile(metadata: metadata)
        for (name, entry) in model.state(prefix: "") {
            switch entry {
            case .parameter(let parameter): file.tensors[name] = StoredTensor(parameter.value)
            case .buffer(let buffer): file.tensors[name] = StoredTensor(buffer.value, dtype: buffer.kind == .int64 ? .i64 : .f32)
            }
        }
        try file.write(to: path)
    }

    /// Copies the file's tensors into `model` by name. Strict: any missing, unexpected or mismatched
    /// tensor is an error listing them all, and the model is left untouched. Non-strict: whatever
    /// matches is loaded and the report says what was not. The file may also be a `torch.save` checkpoint.
    @discardableResult
    public static func load(into model: Layer, from path: String, strict: Bool = true) throws(CheckpointError) -> LoadReport {
        try apply(SafeTensorsFile.readWeights(path), to: model, path: path, strict: strict)
    }

    /// As `load(into:from:strict:)`, from a file already read.
    @discardableResult
    public static func apply(_ file: SafeTensorsFile, to model: Layer, path: String, strict: Bool) throws(CheckpointError) -> LoadReport {
        var report = LoadReport()
        let entries = model.state(prefix: "")
        let names = Set(entries.map(\.name))
        for (name, entry) in entries {
            let target = entry.value
            guard let stored = file.tensors[name] else {
                report.missing.append(name)
                continue
            }
            if stored.tensor.shape != target.shape && !(stored.tensor.count == 1 && target.count == 1) {
                report.mismatched.append((name, target.shape, stored.tensor.shape))
            } else {
                report.loaded.append(name)
            }
        }
        report.unexpected = file.tensors.keys.filter { !names.contains($0) }.sorted()
        if strict && (!report.missing.isEmpty || !report.unexpected.isEmpty || !report.mismatched.isEmpty) {
            throw CheckpointError(path: path, reason: "does not fit the model:\n\(report)")
        }
        let loaded = Set(report.loaded)
        for (name, entry) in entries where loaded.contains(name) {
            let values = file.tensors[name]!.tensor.scalars
            switch entry {
            case .parameter(let parameter): parameter.value = Tensor(shape: parameter.value.shape, scalars: values)
            case .buffer(let buffer): buffer.value = Tensor(shape: buffer.value.shape, scalars: values)
            }
        }
        return report
    }
}

extension StateEntry {
    /// The tensor this entry holds.
    public var value: Tensor {
        switch self {
        case .parameter(let parameter): parameter.value
        case .buffer(let buffer): buffer.value
        }
    }
}
