import Cluster
import Evaluation
import Foundation
import PlanetData
import Support
import Tensor
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

    /// The pipeline; under `budget_minutes` each model's epochs are set before the train stage.
    public internal(set) var config: PipelineConfig
    /// The pipeline file, as given (shown in the report).
    public let source: String
    public let results: String
    public let progress: ProgressPrinter
    public var force = false
    /// The engine's settings for every stage (`threads:` sets the workers): the caller's by default.
    public var engine = EngineSettings.current
    /// The MLflow server when the pipeline names none (`canopy run` passes `MLFLOW_TRACKING_URI`).
    public var trackingFallbackURI: String?
    /// This run's MLflow tracking, when on (Tracking/).
    public internal(set) var tracker: MLflowTracker?
    /// The ranks of an `mpirun` job this process is one of (DistributedRun.swift); one process by default.
    public var cluster = Cluster.single
    /// Whether rank 0 has sent the other ranks their orders this run.
    var ordersSent = false

    // What prepare establishes for the later stages.
    var dataset: PlanetDataset!
    var statistics: NormalizationStatistics!
    var folds: FoldAssignment!
    var prepareKey = Fingerprint()
    /// The dataset as `preflight` opened it (before `data.limit_*`).
    var openedDataset: PlanetDataset?
    /// Chip identities, skipped chips and what the stage cache decided (TrainStage.swift).
    let cache = StageCache()
    var stamps: [String: String] = [:]
    /// The pipeline file the report names (`sourceForReport()`).
    var reportSource = ""

    public init(config: PipelineConfig, source: String, results: String? = nil, progress: ProgressPrinter? = nil) {
        self.config = config
        self.source = source
        self.results = results ?? "results/\(config.name)"
        self.progress = progress ?? ProgressPrinter(logPath: (results ?? "results/\(config.name)") + "/train_log.csv")
        if config.folds.refit { self.progress.refitFold = config.folds.k }
    }

    func path(_ parts: String...) -> String { ([results] + parts).joined(separator: "/") }

    /// Runs every stage up to and including `last`, under `engine`.
    /// With tracking on, the MLflow run ends FINISHED or FAILED with it (its failures are warnings only).
    public func run(through last: Stage = .report) throws {
        do {
            try EngineSettings.with(engine) { try runStages(through: last) }
            // Every rank leaves together, rank 0's stages done (`predict --images` reads what they wrote).
            try cluster.barrier("the run's last stages", waitingAtMost: .infinity)
        } catch {
            finishTracking(succeeded: false)
            throw error
        }
        finishTracking(succeeded: true)
    }

    private func runStages(through last: Stage) throws {
        if cluster.isDistributed && !cluster.isRoot { return try runAsWorker(through: last) }
        let started = Date()
        // Nothing is written before the checks pass (Preflight.swift), and one run at a time uses a results folder.
        try preflight()
        try Folders.create(results)
        let lock = try FolderLock.acquire(folder: results, command: "canopy run \(source)")
        defer { lock.release() }
        try Folders.create(path("predictions"))
        if let pid = lock.tookOverFrom { progress.note("took over \(lock.path) from process \(pid), which is gone") }
        removeStaleTemporaryFiles()
        CrashPoints.enter(stage: Stage.prepare.rawValue)
        stamps = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: path("stages.json"))))) ?? [:]
        reportSource = sourceForReport()
        try writeConfig()
        startTracking()
        try prepare()
        try applyTimeBudget(startedAt: started)
        try computeChipIdentities()
        // Each stage's key is made of exactly what it reads (see `inputs(of:upstream:)`); its inputs
        // are kept by name in stages.json, so a stage that is redone says which changed.
        var keys: [Stage: String] = [:]
        for stage in Stage.allCases.dropFirst() where stage <= last {
            let inputs = self.inputs(of: stage, upstream: keys)
            let key = inputs.key
            keys[stage] = key
            let outputs = self.outputs(of: stage)
            if !force, stamps[stage.rawValue] == key, outputs.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
                let detail = stage == .train ? " (\(config.models.count * config.folds.trained.count) model folds: training and predictions reused)" : " (reused)"
                cache.decisions.append("\(stage.rawValue): up to date\(detail)")
                progress.stage("\(stage.rawValue): up to date\(detail)")
                continue
            }
            let previous = stamps.filter { $0.key.hasPrefix(stage.rawValue + "/") }
            let reason = force ? "--force" : stamps[stage.rawValue] == key ? "outputs missing"
                : inputs.changes(from: previous.isEmpty ? nil : Dictionary(uniqueKeysWithValues: previous.map { (String($0.key.dropFirst(stage.rawValue.count + 1)), $0.value) }))
            cache.decisions.append("\(stage.rawValue): redone (\(reason))")
            progress.stage("\(stage.rawValue): redone (\(reason))")
            CrashPoints.enter(stage: stage.rawValue)
            stamps[stage.rawValue] = nil
            // What the later stages wrote was made from this stage's old results: it goes before this
            // stage changes anything, so a run that fails part-way never leaves the old submission and
            // report beside new checkpoints (the next run that gets there makes them again).
            for later in Stage.allCases where later > stage {
                stamps[later.rawValue] = nil
                for file in self.outputs(of: later) + reportFiles(of: later) { try? FileManager.default.removeItem(atPath: file) }
            }
            try saveStamps()
            switch stage {
            case .prepare: break
            case .train:
                try sendOrders(train: true)
                try train()
            case .predict: try assemblePredictions()
            case .ensemble: try ensemble()
            case .tune: try tune()
            case .submit: try submit()
            case .report: try report()
            }
            stamps[stage.rawValue] = key
            stamps = stamps.filter { !$0.key.hasPrefix(stage.rawValue + "/") }
            for (name, value) in inputs.parts { stamps[stage.rawValue + "/" + name] = value }
            try saveStamps()
        }
        try sendOrders(train: false)
    }

    func outputs(of stage: Stage) -> [String] {
        switch stage {
        case .prepare: return [path("folds.csv")]
        case .train:
            return config.models.flatMap { model in
                config.folds.trained.flatMap { Self.finishedUnitFiles(in: foldFolder(model, $0), tables: Self.foldTables) }
                    + (config.folds.refit ? Self.finishedUnitFiles(in: refitFolder(model), tables: Self.refitTables) : [])
            }
        case .predict: return config.models.flatMap { [path("predictions", "\($0.name)-oof.csv"), path("predictions", "\($0.name)-test.csv")] }
        case .ensemble: return [path("predictions", "ensemble-oof.csv"), path("predictions", "ensemble-test.csv")]
        case .tune: return [path("thresholds.json")]
        case .submit: return config.outputs.submission ? [path("submission.csv")] : []
        case .report: return config.outputs.report ? [path("report.html"), path("metrics.json")] : []
        }
    }

    /// The report's files besides `outputs(of: .report)`, which only needs two of them to count as done.
    func reportFiles(of stage: Stage) -> [String] {
        stage == .report ? [path("report.md"), path("report.csv")] : []
    }

    /// A run killed while writing leaves `NAME.tmp-PID` beside the file it was replacing (the file
    /// itself is intact: it is only ever renamed over). Those leftovers go at the next start.
    func removeStaleTemporaryFiles() {
        guard let walker = FileManager.default.enumerator(atPath: results) else { return }
        while let relative = walker.nextObject() as? String {
            if relative.contains(".tmp-") { try? FileManager.default.removeItem(atPath: path(relative)) }
        }
    }

    /// `config.json`: the settings in the pipeline file's own keys and structure, defaults and `--set`
    /// overrides written out (keys sorted): a pipeline file that runs again (`canopy run
    /// results/NAME/config.json` redoes nothing).
    func writeConfig() throws {
        try writeJSON(config, to: path("config.json"), escapingSlashes: false)
    }

    /// The pipeline file the report names, which is in its key: `source`, except that a results
    /// folder's own `config.json` run again stands for the file it was written from.
    func sourceForReport() -> String {
        let own = URL(fileURLWithPath: path("config.json")).standardizedFileURL.path
        guard URL(fileURLWithPath: source).standardizedFileURL.path == own else { return source }
        return stamps["report/source"] ?? source
    }

    func saveStamps() throws { try writeJSON(stamps, to: path("stages.json")) }

    func foldFolder(_ model: ModelSpec, _ fold: Int) -> String { path("models", model.name, "fold-\(fold)") }

    // MARK: - prepare

    func prepare() throws {
        progress.stage("prepare: \(config.data.root)")
        dataset = try openDataset()
        for line in dataset.problems.summary { progress.note(line) }
        guard dataset.train.count >= config.folds.k else {
            throw TrainingError("\(dataset.train.count) training chips cannot fill \(config.folds.k) folds")
        }
        progress.note("\(dataset.train.count) training chips, \(dataset.test.count) test chips, bands \(dataset.bands.rawValue)")

        var key = Fingerprint("canopy pipeline v1")
        key.add(bytes: (try? AtomicFile.read(config.data.root + "/" + PlanetDataset.trainLabelsFile)) ?? [])
        key.add(bytes: (try? AtomicFile.read(config.data.root + "/" + PlanetDataset.sampleSubmissionFile)) ?? [])
        key.add(dataset.train.map(\.name).joined(separator: ","))
        key.add(dataset.test.map(\.name).joined(separator: ","))
        key.add(config.folds.split)

        statistics = try loadStatistics()

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

    /// The dataset as preflight opened it, limited by `data.limit_*`.
    func openDataset() throws -> PlanetDataset {
        let data = try openedDataset ?? PlanetDataset.open(root: config.data.root, bands: config.data.bands, missingFiles: config.data.missingFiles)
        return data.limited(train: config.data.limitTrain, test: config.data.limitTest)
    }

    // loadStatistics(): Preflight.swift (statistics tied to the exact chip set).

    // MARK: - helpers shared by the stages

    /// The fold of each scored training chip (every one that decoded: the rows of the out-of-fold
    /// tables), in dataset order.
    var foldOfChip: [Int] { scoredTrain.map { folds.foldOf[$0.name]! } }

    var truth: [LabelSet] { scoredTrain.map { $0.labels ?? LabelSet() } }

    /// The scored test chips' true tags when the dataset has them (synthetic data), else nil.
    var testTruth: [LabelSet]? {
        let labels = scoredTest.map(\.labels)
        return labels.allSatisfy { $0 != nil } && !labels.isEmpty ? labels.map { $0! } : nil
    }

    /// `value` pretty-printed with sorted keys, through a temporary name; `escapingSlashes: false`
    /// writes paths as they are typed (`config.json`, which is read again as a pipeline file).
    func writeJSON<T: Encodable>(_ value: T, to file: String, escapingSlashes: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = escapingSlashes ? [.prettyPrinted, .sortedKeys] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
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
