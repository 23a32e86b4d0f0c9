import Foundation
import PlanetData
import Support
import Training

/// The cache keys of one run, computed once after prepare: the identity of every chip, and each
/// (model, fold)'s training and prediction inputs.
final class StageCache {
    /// name, labels and the content hash of its image files, per chip, in dataset order.
    var trainIdentity: [String] = []
    var testIdentity: [String] = []
    /// The chips left out (read from the folds' records after training).
    var skipped: [SkippedChipRecord]?
    /// What this run printed about reusing and redoing (also kept for tests).
    var decisions: [String] = []
    /// Each (model, fold)'s training inputs, made once a run (the train stage's key and its plan both
    /// read them), and each `init` file's content hash.
    var trainingInputs: [String: StageInputs] = [:]
    var initHashes: [String: String] = [:]
}

/// A stage's or a fold's inputs, by name, and the key they make.
struct StageInputs {
    var parts: [(name: String, value: String)] = []

    mutating func add(_ name: String, _ value: String) { parts.append((name, value)) }

    var key: String { key(excluding: []) }

    func key(excluding: Set<String>) -> String {
        var f = Fingerprint("canopy stage inputs v2")
        for (name, value) in parts where !excluding.contains(name) { f.add(name); f.add(value) }
        return f.description
    }

    /// Each top-level field of `value` as its own input (`PREFIX.field_name`: its JSON), so a
    /// rerun can name the field that changed; not the fields named in `except` (as the file names them).
    ///
    /// The JSON is spelled as the v2 keys were first made, when the settings had Swift's synthesized
    /// coding: camelCase keys (`{"learningRate":0.05}`), in that order. The settings are coded in the
    /// pipeline file's own keys since, and results made before still count as up to date.
    mutating func addFields<T: Encodable>(_ prefix: String, _ value: T, except: Set<String> = []) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .custom { path in V2Key(stringValue: Self.camelCase(path.last!.stringValue)) }
        guard let data = try? encoder.encode(value), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            add(prefix, fingerprint(value))
            return
        }
        for key in object.keys.sorted() where !except.contains(PipelineRunner.yamlName(key)) {
            let text = (try? JSONSerialization.data(withJSONObject: object[key]!, options: [.sortedKeys, .fragmentsAllowed]))
                .map { String(decoding: $0, as: UTF8.self) } ?? "?"
            add(prefix + "." + PipelineRunner.yamlName(key), text)
        }
    }

    /// A model's training settings, each its own input (`models.epochs`): not its name (the folder is
    /// its name), its `init` (the file's content is an input of its own) nor `init_strict` (it changes
    /// no result of a run that starts).
    mutating func addModelSettings(_ model: ModelSpec) {
        var spec = model
        spec.name = ""
        spec.initWeights = nil
        addFields("models", spec, except: ["name", "init", "init_strict"])
        if let index = parts.lastIndex(where: { $0.name == "models.schedule" }) { parts[index].value = Self.v2CaseSpelling(parts[index].value) }
    }

    /// `learning_rate` -> `learningRate`.
    static func camelCase(_ key: String) -> String {
        let words = key.split(separator: "_")
        return (words.first.map(String.init) ?? "") + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// A schedule's JSON, `{"kind":"one_cycle",...}`, as the v2 keys spelled it (Swift's synthesized
    /// coding of an enum case: `{"oneCycle":{...}}`).
    static func v2CaseSpelling(_ json: String) -> String {
        guard var object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let kind = object.removeValue(forKey: "kind") as? String,
              let data = try? JSONSerialization.data(withJSONObject: [camelCase(kind): object], options: [.sortedKeys]) else { return json }
        return String(decoding: data, as: UTF8.self)
    }

    private struct V2Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var dictionary: [String: String] { Dictionary(parts.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }) }

    /// Why a unit with these inputs must be redone, given the inputs it was last made from.
    func changes(from old: [String: String]?) -> String {
        guard let old else { return "not done before" }
        let changed = parts.filter { old[$0.name] != $0.value }.map { part -> String in
            if let before = old[part.name], !Self.hashed.contains(part.name), !Self.isHash(before), before.count <= 24, part.value.count <= 24 {
                return "\(part.name) changed: \(before) -> \(part.value)"
            }
            return "\(part.name) changed"
        }
        let gone = old.keys.filter { key in !parts.contains { $0.name == key } }.sorted().map { "\($0) changed" }
        let all = changed + gone
        if all.isEmpty { return "outputs missing" }
        return all.count <= 3 ? all.joined(separator: ", ") : all.prefix(2).joined(separator: ", ") + " and \(all.count - 2) more inputs changed"
    }

    static func isHash(_ text: String) -> Bool { text.count == 16 && text.allSatisfy(\.isHexDigit) }

    /// Inputs whose values are hashes (their old and new values say nothing to a reader).
    static let hashed: Set<String> = ["chips", "split", "test chips", "statistics", "init", "weights", "version", "predictions", "fold predictions",
                                      "ensemble", "decisions", "sample submission", "data problems", "training chips", "test labels", "skipped chips"]
}

func fingerprint<T: Encodable>(_ value: T) -> String {
    var f = Fingerprint()
    f.add(value)
    return f.description
}

func fingerprint(_ texts: [String]) -> String {
    var f = Fingerprint()
    for text in texts { f.add(text) }
    return f.description
}

extension PipelineRunner {
    /// A chip's identity: its name, its labels, and the content hash of each of its image files (not
    /// their folder, so a moved dataset keeps its results; not their modification time, so a file
    /// rewritten with the same bytes does too).
    func identity(of chip: DatasetChip, hashes: ChipHashes) -> String {
        var text = chip.name + "|" + (chip.labels.map { String($0.mask) } ?? "-")
        for path in [chip.jpegPath, chip.tiffPath] {
            guard let path else { continue }
            text += "|" + hashes.hash(path)
        }
        return text
    }

    func computeChipIdentities() throws {
        cache.trainingInputs = [:]
        cache.initHashes = [:]
        let hashes = ChipHashes(file: path("chip-hashes.tsv"))
        cache.trainIdentity = dataset.train.map { identity(of: $0, hashes: hashes) }
        cache.testIdentity = dataset.test.map { identity(of: $0, hashes: hashes) }
        cache.skipped = nil
        try hashes.save()
    }

    /// Training's inputs for one model on one fold: exactly what `FoldTrainer` reads. The fold's
    /// training and validation chips (identity, in order: the split, labels and files), the
    /// normalisation, each training setting of the model (not its name: the folder is its name), and
    /// the content of its `init` file. Not `data.workers` (batches do not depend on it) nor
    /// `on_bad_image` (a chip that does not decode is left out either way, or the run stops).
    func trainingInputs(_ model: ModelSpec, _ fold: Int) -> StageInputs {
        let unit = "\(model.name)/\(fold)"
        if let made = cache.trainingInputs[unit] { return made }
        var inputs = StageInputs()
        inputs.add("version", "canopy train v2")
        var training: [String] = [], validation: [String] = [], split: [String] = [], held: [String] = []
        for (index, chip) in dataset.train.enumerated() {
            let named = chip.name + "|" + (chip.labels.map { String($0.mask) } ?? "-")
            if folds.foldOf[chip.name] == fold {
                validation.append(cache.trainIdentity[index])
                held.append(named)
            } else {
                training.append(cache.trainIdentity[index])
                split.append(named)
            }
        }
        // "split": which chips, with which labels, in which order; "chips": that and their bytes.
        inputs.add("split", fingerprint(["training"] + split + ["validation"] + held))
        inputs.add("chips", fingerprint(["training"] + training + ["validation"] + validation))
        inputs.add("statistics", fingerprint(statistics) + dataset.bands.rawValue)
        inputs.addModelSettings(model)
        inputs.add("init", model.initWeights.map(initHash) ?? "none")
        // Data-parallel training's batch norm and summation order are its ranks' (mode: folds changes nothing).
        if let shared = dataParallelKey { inputs.add("distributed", shared) }
        cache.trainingInputs[unit] = inputs
        return inputs
    }

    /// The content of an `init` file, read once a run however many folds start from it.
    func initHash(_ path: String) -> String {
        if let hash = cache.initHashes[path] { return hash }
        let hash = Fingerprint.contentHash(ofFile: path).map { "content " + $0 } ?? "unreadable \(path)"
        cache.initHashes[path] = hash
        return hash
    }

    /// `inputSize` -> `input_size`, as the pipeline file spells it.
    static func yamlName(_ key: String) -> String {
        var out = ""
        for character in key {
            if character.isUppercase { out += "_" + character.lowercased() } else { out.append(character) }
        }
        return out
    }

    /// Prediction's inputs for one model on one fold: the weights (its training key), the TTA and
    /// the test chips. The validation chips and the normalisation are in the training key.
    func predictionInputs(trainingKey: String) -> StageInputs {
        var inputs = StageInputs()
        inputs.add("version", "canopy predict v2")
        inputs.add("weights", trainingKey)
        inputs.add("tta", config.tta.rawValue)
        inputs.add("test chips", fingerprint(cache.testIdentity))
        return inputs
    }

    /// A stage's inputs: the key of the stage before it that it reads, and the settings it reads.
    /// Train's are every (model, fold)'s prediction key (which holds its training key).
    func inputs(of stage: Stage, upstream keys: [Stage: String]) -> StageInputs {
        var inputs = StageInputs()
        inputs.add("version", "canopy \(stage.rawValue) v2")
        switch stage {
        case .prepare: break
        case .train:
            for model in config.models {
                for fold in config.folds.trained {
                    inputs.add("\(model.name) fold \(fold)", predictionInputs(trainingKey: trainingInputs(model, fold).key).key)
                }
                if config.folds.refit { inputs.add("\(model.name) refit", predictionInputs(trainingKey: refitTrainingInputs(model).key).key) }
            }
        case .predict:
            inputs.add("fold predictions", keys[.train] ?? "")
            inputs.add("models", config.models.map(\.name).joined(separator: ","))
        case .ensemble:
            inputs.add("predictions", keys[.predict] ?? "")
            if config.models.count > 1 { inputs.addFields("ensemble", config.ensemble) }
        case .tune:
            inputs.add("ensemble", keys[.ensemble] ?? "")
            inputs.addFields("thresholds", config.thresholds)
        case .submit:
            inputs.add("decisions", keys[.tune] ?? "")
            inputs.add("outputs.submission", String(config.outputs.submission))
            inputs.add("sample submission", fingerprint(dataset.submissionNames))
        case .report:
            inputs.add("decisions", keys[.tune] ?? "")
            inputs.add("predictions", keys[.predict] ?? "")
            inputs.add("outputs.report", String(config.outputs.report))
            inputs.add("outputs.sample_chips", String(config.outputs.sampleChips))
            inputs.add("name", config.name)
            inputs.add("data.root", config.data.root)
            inputs.add("source", reportSource)
            inputs.add("data problems", fingerprint(dataset.problems.summary))
        }
        return inputs
    }
}
