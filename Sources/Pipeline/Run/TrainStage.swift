import Evaluation
import Foundation
import NN
import PlanetData
import Support
import Training

/// A chip that did not decode under `data.on_bad_image: skip`: left out of every table, metric and
/// threshold, listed in the report and in `skipped-chips.csv`.
struct SkippedChipRecord: Codable, Equatable {
    /// `train` (an out-of-fold chip) or `test`.
    var set: String
    var name: String
    var error: String
}

/// What a finished fold leaves in `fold.json`: the inputs its training and its predictions were made
/// from (each a named part of its cache key, so a rerun can say what changed), its history, and the
/// chips its predictions skipped.
struct FoldRecord: Codable {
    var trainingKey: String
    var training: [String: String]
    var predictionKey: String
    var prediction: [String: String]
    var bestEpoch: Int
    var stoppedEarly: Bool
    var history: [EpochRecord]
    var skipped: [SkippedChipRecord]
}

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
    // MARK: - keys

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
                for fold in 0..<config.folds.k {
                    inputs.add("\(model.name) fold \(fold)", predictionInputs(trainingKey: trainingInputs(model, fold).key).key)
                }
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

    // MARK: - train

    /// Every model on every fold, each fold two units: training (reused when its inputs are those of
    /// the fold's record and its best weights are there; a fold stopped before its record was written
    /// resumes from `resume.safetensors` when that was made for the same split, settings,
    /// normalisation and `init`: a chip file fixed after a decode error does not start it over) and prediction of the fold's
    /// validation chips (with and without TTA) and the test chips (with TTA) from the best weights
    /// (reused when the weights, the TTA and the test chips are those it was made from).
    /// What `train()` finds for one (model, fold): its keys, its record, and what it can reuse.
    struct FoldPlan {
        var trainingInputs: StageInputs
        var predictionInputs: StageInputs
        var old: FoldRecord?
        var trainingReused: Bool
        var predictionReused: Bool
    }

    func plan(_ model: ModelSpec, _ fold: Int) -> FoldPlan {
        let folder = foldFolder(model, fold)
        let trainingInputs = self.trainingInputs(model, fold)
        let predictionInputs = self.predictionInputs(trainingKey: trainingInputs.key)
        let old = force ? nil : try? readJSON(FoldRecord.self, from: folder + "/fold.json")
        let predictionFiles = ["oof.csv", "oof-notta.csv", "test.csv"].map { folder + "/" + $0 }
        let trainingReused = old?.trainingKey == trainingInputs.key && FileManager.default.fileExists(atPath: FoldTrainer.bestPath(in: folder))
        let predictionReused = trainingReused && old?.predictionKey == predictionInputs.key
            && predictionFiles.allSatisfy { FileManager.default.fileExists(atPath: $0) }
        return FoldPlan(trainingInputs: trainingInputs, predictionInputs: predictionInputs, old: old,
                        trainingReused: trainingReused, predictionReused: predictionReused)
    }

    /// The whole train stage's work, for the run's ETA.
    func estimate(_ plans: [[FoldPlan]]) -> RunEstimate {
        var units: [RunEstimate.Unit] = []
        let views = config.tta.symmetries.count
        for (m, model) in config.models.enumerated() {
            for fold in 0..<config.folds.k where !plans[m][fold].predictionReused {
                let validationChips = dataset.train.filter { folds.foldOf[$0.name] == fold }.count
                units.append(RunEstimate.Unit(model: model.name, fold: fold, epochs: plans[m][fold].trainingReused ? 0 : model.epochs,
                                              trainingChips: dataset.train.count - validationChips,
                                              predictionViews: validationChips * (config.tta == .none ? 1 : 1 + views) + dataset.test.count * views))
            }
        }
        return RunEstimate(units: units)
    }

    func train() throws {
        cache.skipped = nil
        let plans = config.models.map { model in (0..<config.folds.k).map { plan(model, $0) } }
        progress.estimate = estimate(plans)
        defer { progress.estimate = nil }
        for (m, model) in config.models.enumerated() {
            for fold in 0..<config.folds.k {
                let folder = foldFolder(model, fold)
                let recordPath = folder + "/fold.json"
                let plan = plans[m][fold]
                let (trainingInputs, predictionInputs, old) = (plan.trainingInputs, plan.predictionInputs, plan.old)
                let (trainingKey, predictionKey) = (trainingInputs.key, predictionInputs.key)
                let (trainingReused, predictionReused) = (plan.trainingReused, plan.predictionReused)
                let unit = "\(model.name) fold \(fold)"
                if predictionReused, let old {
                    decide("\(unit): training reused (best epoch \(old.bestEpoch)); predictions reused")
                    continue
                }
                var record: FoldRecord
                if trainingReused, let old {
                    decide("\(unit): training reused (best epoch \(old.bestEpoch)); predictions redone (\(force ? "--force" : predictionInputs.changes(from: old.prediction)))")
                    record = old
                } else {
                    let reason = force ? "--force" : old == nil && FileManager.default.fileExists(atPath: recordPath)
                        ? "its record is from an older Canopy" : trainingInputs.changes(from: old?.training)
                    decide("\(unit): training redone (\(reason)); predictions redone")
                    // A finished fold whose inputs changed starts over (its checkpoint was made from
                    // other inputs); its old record goes first, so a stop from here on resumes.
                    if force {
                        try? FileManager.default.removeItem(atPath: folder)
                    } else if FileManager.default.fileExists(atPath: recordPath) {
                        try? FileManager.default.removeItem(atPath: folder + "/resume.safetensors")
                        try? FileManager.default.removeItem(atPath: recordPath)
                    }
                    let validation = dataset.train.filter { folds.foldOf[$0.name] == fold }
                    let training = dataset.train.filter { folds.foldOf[$0.name] != fold }
                    let trainer = FoldTrainer(spec: model, fold: fold, folder: folder, train: training, validation: validation,
                                              bands: dataset.bands, statistics: statistics,
                                              fingerprint: trainingInputs.key(excluding: ["chips"]))
                    trainer.loaderWorkers = config.data.workers
                    trainer.onBadImage = config.data.onBadImage
                    let outcome = try trainer.run(observer: progress)
                    if !config.outputs.checkpoints { try? FileManager.default.removeItem(atPath: trainer.lastPath) }
                    record = FoldRecord(trainingKey: trainingKey, training: trainingInputs.dictionary, predictionKey: "", prediction: [:],
                                        bestEpoch: outcome.bestEpoch, stoppedEarly: outcome.stoppedEarly, history: outcome.history, skipped: [])
                    // Training is kept even if prediction is stopped: a rerun then only predicts.
                    try writeJSON(record, to: recordPath)
                }
                record.skipped = try predictFold(model, fold: fold, folder: folder)
                progress.foldPredicted(model: model.name, fold: fold)
                record.predictionKey = predictionKey
                record.prediction = predictionInputs.dictionary
                try writeJSON(record, to: recordPath)
            }
        }
    }

    /// Prints and keeps one reuse/redo decision.
    func decide(_ line: String) {
        cache.decisions.append(line)
        progress.note(line)
    }

    /// What this runner printed about reusing and redoing stages and folds, in order.
    public var cacheDecisions: [String] { cache.decisions }

    /// The fold's `oof-notta.csv`, `oof.csv` and `test.csv` from its best weights. A chip that does not
    /// decode (under `on_bad_image: skip`) has no row; it is returned.
    func predictFold(_ model: ModelSpec, fold: Int, folder: String) throws -> [SkippedChipRecord] {
        let network = try bestNetwork(model, fold: fold)
        // Inference keeps no activations for backward: larger batches give the GEMMs wider
        // products (at 64 px, 128 images run 25% faster per image than 32).
        let predictor = Predictor(bands: dataset.bands, statistics: statistics, inputSize: model.inputSize,
                                  batchSize: Predictor.inferenceBatch(training: model.batchSize, inputSize: model.inputSize),
                                  workers: config.data.workers, onBadImage: config.data.onBadImage)
        let validation = dataset.train.filter { folds.foldOf[$0.name] == fold }
        func table(_ chips: [DatasetChip], _ result: (probabilities: [[Float]], skipped: [SkippedChip])) -> ProbabilityTable {
            let left = Set(result.skipped.map(\.name))
            let kept = chips.indices.filter { !left.contains(chips[$0].name) }
            return ProbabilityTable(names: kept.map { chips[$0].name }, rows: kept.map { result.probabilities[$0] })
        }
        let plain = try predict(predictor, network, validation, tta: .none, what: "\(model.name) fold \(fold) validation")
        try table(validation, plain).write(to: folder + "/oof-notta.csv")
        var skipped = plain.skipped.map { SkippedChipRecord(set: "train", name: $0.name, error: $0.error) }
        if config.tta != .none {
            let augmented = try predict(predictor, network, validation, tta: config.tta, what: "\(model.name) fold \(fold) validation, TTA \(config.tta.rawValue)")
            try table(validation, augmented).write(to: folder + "/oof.csv")
        } else {
            try table(validation, plain).write(to: folder + "/oof.csv")
        }
        let test = try predict(predictor, network, dataset.test, tta: config.tta,
                               what: "\(model.name) fold \(fold) test\(config.tta == .none ? "" : ", TTA \(config.tta.rawValue)")")
        try table(dataset.test, test).write(to: folder + "/test.csv")
        skipped += test.skipped.map { SkippedChipRecord(set: "test", name: $0.name, error: $0.error) }
        for chip in skipped { progress.note("skipped \(chip.set) chip \(chip.name): \(chip.error)") }
        return skipped
    }

    // MARK: - skipped chips

    /// The chips that did not decode, from the folds' records (every model's; a chip one model could
    /// not read is left out for all, so their tables stay aligned), train then test, in dataset order.
    func skippedChips() -> [SkippedChipRecord] {
        if let skipped = cache.skipped { return skipped }
        var byName: [String: SkippedChipRecord] = [:]
        for model in config.models {
            for fold in 0..<config.folds.k {
                guard let record = try? readJSON(FoldRecord.self, from: foldFolder(model, fold) + "/fold.json") else { continue }
                for chip in record.skipped where byName[chip.set + "/" + chip.name] == nil { byName[chip.set + "/" + chip.name] = chip }
            }
        }
        let ordered = dataset.train.compactMap { byName["train/" + $0.name] } + dataset.test.compactMap { byName["test/" + $0.name] }
        cache.skipped = ordered
        return ordered
    }

    /// The training chips that count in metrics (every one that decoded), in dataset order.
    var scoredTrain: [DatasetChip] {
        let left = Set(skippedChips().filter { $0.set == "train" }.map(\.name))
        return left.isEmpty ? dataset.train : dataset.train.filter { !left.contains($0.name) }
    }

    /// The test chips that have a prediction (every one that decoded), in dataset order.
    var scoredTest: [DatasetChip] {
        let left = Set(skippedChips().filter { $0.set == "test" }.map(\.name))
        return left.isEmpty ? dataset.test : dataset.test.filter { !left.contains($0.name) }
    }

    /// `skipped-chips.csv`: `set,image_name,error`, one row per chip left out (a header alone when none).
    func writeSkippedChips() throws {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let lines = ["set,image_name,error"] + skippedChips().map { [field($0.set), field($0.name), field($0.error)].joined(separator: ",") }
        try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: path("skipped-chips.csv"))
    }

    /// The network of `model` on `fold` with its best epoch's weights.
    func bestNetwork(_ model: ModelSpec, fold: Int) throws -> Layer {
        let network = try FoldTrainer.makeModel(model, bands: dataset.bands.bandCount, observer: nil)
        let path = FoldTrainer.bestPath(in: foldFolder(model, fold))
        do { try Checkpoint.load(into: network, from: path) } catch { throw TrainingError(error.description) }
        return network
    }

    private func predict(_ predictor: Predictor, _ network: Layer, _ chips: [DatasetChip], tta: TestTimeAugmentation,
                         what: String) throws -> (probabilities: [[Float]], skipped: [SkippedChip]) {
        let started = Date()
        return try predictor.predictReportingSkips(network, chips: chips, tta: tta, progress: { done, total in
            self.progress.predictionProgress(what: what, done: done, total: total,
                                             imagesPerSecond: Double(done * tta.symmetries.count) / Date().timeIntervalSince(started))
        })
    }
}
