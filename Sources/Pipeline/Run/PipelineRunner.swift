import Evaluation
import Foundation
import PlanetData
import Support
import Training

/// Runs a pipeline's stages in order, writing everything to the results folder:
///
///     prepare   dataset checks, per-band statistics, folds.csv
///     train     every model on every fold (resumable), its out-of-fold and test probabilities
///     predict   each model's out-of-fold table and its test table averaged over folds
///     ensemble  the models combined (mean, weighted mean, vote or ridge stacking)
///     tune      decisions tuned on out-of-fold probabilities: thresholds.json
///     submit    submission.csv, in the sample submission's order
///     report    report.md, report.csv, metrics.json, report.html
///
/// A stage whose inputs (settings and upstream results, hashed) are those of its last run, and whose
/// outputs are there, is skipped; `force` redoes it. Training resumes inside a fold from the last
/// finished epoch, so an interrupted run continues where it stopped when started again.
public final class PipelineRunner {
    public enum Stage: String, CaseIterable, Comparable, Sendable {
        case prepare, train, predict, ensemble, tune, submit, report
        public static func < (a: Stage, b: Stage) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    public let config: PipelineConfig
    /// The pipeline file, as given (shown in the report).
    public let source: String
    public let results: String
    public let progress: ProgressPrinter
    public var force = false

    // What prepare establishes for the later stages.
    var dataset: PlanetDataset!
    var statistics: NormalizationStatistics!
    var folds: FoldAssignment!
    var prepareKey = Fingerprint()
    var stamps: [String: String] = [:]

    public init(config: PipelineConfig, source: String, results: String? = nil, progress: ProgressPrinter? = nil) {
        self.config = config
        self.source = source
        self.results = results ?? "results/\(config.name)"
        self.progress = progress ?? ProgressPrinter(logPath: (results ?? "results/\(config.name)") + "/train_log.csv")
    }

    func path(_ parts: String...) -> String { ([results] + parts).joined(separator: "/") }

    /// Runs every stage up to and including `last`.
    public func run(through last: Stage = .report) throws {
        try FileManager.default.createDirectory(atPath: path("predictions"), withIntermediateDirectories: true)
        removeStaleTemporaryFiles()
        CrashPoints.enter(stage: Stage.prepare.rawValue)
        stamps = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: path("stages.json"))))) ?? [:]
        try writeJSON(config, to: path("config.json"))
        try prepare()
        var key = prepareKey
        for stage in Stage.allCases.dropFirst() where stage <= last {
            key.add(stage.rawValue)
            key.add(settings(of: stage))
            let outputs = self.outputs(of: stage)
            if !force, stamps[stage.rawValue] == key.description, outputs.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
                progress.stage("\(stage.rawValue): up to date")
                continue
            }
            progress.stage("\(stage.rawValue)")
            CrashPoints.enter(stage: stage.rawValue)
            stamps[stage.rawValue] = nil
            try saveStamps()
            switch stage {
            case .prepare: break
            case .train: try train()
            case .predict: try assemblePredictions()
            case .ensemble: try ensemble()
            case .tune: try tune()
            case .submit: try submit()
            case .report: try report()
            }
            stamps[stage.rawValue] = key.description
            try saveStamps()
        }
    }

    /// The settings a stage depends on beyond its upstream stages (which its key chains).
    func settings(of stage: Stage) -> String {
        func json<T: Encodable>(_ value: T) -> String {
            var f = Fingerprint()
            f.add(value)
            return f.description
        }
        switch stage {
        case .prepare, .predict: return ""
        case .train: return json(config.models) + json(config.tta)
        case .ensemble: return json(config.ensemble)
        case .tune: return json(config.thresholds)
        case .submit: return String(config.outputs.submission)
        case .report: return json(config.outputs)
        }
    }

    func outputs(of stage: Stage) -> [String] {
        switch stage {
        case .prepare: return [path("folds.csv")]
        case .train: return config.models.flatMap { model in (0..<config.folds.k).map { foldFolder(model, $0) + "/fold.json" } }
        case .predict: return config.models.flatMap { [path("predictions", "\($0.name)-oof.csv"), path("predictions", "\($0.name)-test.csv")] }
        case .ensemble: return [path("predictions", "ensemble-oof.csv"), path("predictions", "ensemble-test.csv")]
        case .tune: return [path("thresholds.json")]
        case .submit: return config.outputs.submission ? [path("submission.csv")] : []
        case .report: return config.outputs.report ? [path("report.html"), path("metrics.json")] : []
        }
    }

    /// A run killed while writing leaves `NAME.tmp-PID` beside the file it was replacing (the file
    /// itself is intact: it is only ever renamed over). Those leftovers go at the next start.
    func removeStaleTemporaryFiles() {
        guard let walker = FileManager.default.enumerator(atPath: results) else { return }
        while let relative = walker.nextObject() as? String {
            if relative.contains(".tmp-") { try? FileManager.default.removeItem(atPath: path(relative)) }
        }
    }

    func saveStamps() throws { try writeJSON(stamps, to: path("stages.json")) }

    func foldFolder(_ model: ModelSpec, _ fold: Int) -> String { path("models", model.name, "fold-\(fold)") }

    // MARK: - prepare

    func prepare() throws {
        progress.stage("prepare: \(config.data.root)")
        var data = try PlanetDataset.open(root: config.data.root, bands: config.data.bands, missingFiles: config.data.missingFiles)
        for line in data.problems.summary { progress.note(line) }
        data = data.limited(train: config.data.limitTrain, test: config.data.limitTest)
        dataset = data
        guard dataset.train.count >= config.folds.k else {
            throw TrainingError("\(dataset.train.count) training chips cannot fill \(config.folds.k) folds")
        }
        progress.note("\(dataset.train.count) training chips, \(dataset.test.count) test chips, bands \(dataset.bands.rawValue)")

        var key = Fingerprint("canopy pipeline v1")
        key.add(bytes: (try? AtomicFile.read(config.data.root + "/" + PlanetDataset.trainLabelsFile)) ?? [])
        key.add(bytes: (try? AtomicFile.read(config.data.root + "/" + PlanetDataset.sampleSubmissionFile)) ?? [])
        key.add(dataset.train.map(\.name).joined(separator: ","))
        key.add(dataset.test.map(\.name).joined(separator: ","))
        key.add(config.data)
        key.add(config.folds)

        statistics = try loadStatistics()
        key.add(statistics)

        let foldsPath = path("folds.csv")
        let foldsKey = key.description
        if !force, stamps["folds"] == foldsKey, let existing = try? FoldAssignment.read(foldsPath, expectedFolds: config.folds.k),
           existing.names == dataset.train.map(\.name) {
            folds = existing
        } else {
            let chips = dataset.train.map { LabeledChip(name: $0.name, labels: $0.labels ?? LabelSet()) }
            folds = FoldAssignment.stratified(chips, folds: config.folds.k, seed: config.folds.seed)
            try folds.write(to: foldsPath)
            stamps["folds"] = foldsKey
            try saveStamps()
        }
        prepareKey = key
    }

    func loadStatistics() throws -> NormalizationStatistics {
        let bands = config.data.bands
        guard config.data.normalization == .dataset else {
            return NormalizationStatistics(bands: bands, mean: [Float](repeating: 0, count: bands.bandCount),
                                           std: [Float](repeating: 1, count: bands.bandCount), chips: 0)
        }
        let stored = NormalizationStatistics.path(root: config.data.root, bands: bands)
        let copy = path("stats-\(bands.rawValue.replacingOccurrences(of: "+", with: "-")).json")
        if FileManager.default.fileExists(atPath: stored) {
            let statistics = try NormalizationStatistics.read(stored)
            try statistics.write(to: copy)
            return statistics
        }
        progress.note("computing per-band statistics of \(dataset.train.count) chips (stored as \(stored))")
        let (statistics, failures) = NormalizationStatistics.compute(dataset.train, bands: bands, workers: config.data.workers)
        for failure in failures { progress.note("bad image: \(failure.error)") }
        if !failures.isEmpty && config.data.onBadImage == .fail {
            throw TrainingError("\(failures.count) chips did not decode (set data.on_bad_image: skip to leave them out)")
        }
        do { try statistics.write(to: stored) } catch { progress.note("cannot store statistics with the data (\(error)); kept in the results folder") }
        try statistics.write(to: copy)
        return statistics
    }

    // MARK: - helpers shared by the stages

    /// The fold of each training chip, in dataset order.
    var foldOfChip: [Int] { dataset.train.map { folds.foldOf[$0.name]! } }

    var truth: [LabelSet] { dataset.train.map { $0.labels ?? LabelSet() } }

    /// The test chips' true tags when the dataset has them (synthetic data), else nil.
    var testTruth: [LabelSet]? {
        let labels = dataset.test.map(\.labels)
        return labels.allSatisfy { $0 != nil } && !labels.isEmpty ? labels.map { $0! } : nil
    }

    func writeJSON<T: Encodable>(_ value: T, to file: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(value)) + [10], to: file)
    }

    func readJSON<T: Decodable>(_ type: T.Type, from file: String) throws -> T {
        do { return try JSONDecoder().decode(type, from: Data(AtomicFile.read(file))) } catch let error as FileError {
            throw error
        } catch {
            throw TrainingError("\(file): \(error)")
        }
    }
}
