import Backbones
import Foundation
import NN
import PlanetData
import Support
import Training

/// Everything a run can be refused for, checked before it writes anything: a run that fails here
/// leaves the results folder as it was (or uncreated). One line per problem.
public struct PreflightError: Error, Equatable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "\n") }
}

extension PipelineRunner {
    /// The data folder, the label file, the sample submission (when a submission is wanted), the
    /// `init` weights (every tensor of the model loads, is adapted, or is the 17-label head, unless
    /// `init_strict: false`) and the results folder's place. The configuration itself was checked
    /// when it was read (`PipelineConfig.parse`). The opened dataset is kept for `prepare`.
    public func preflight() throws {
        var problems: [String] = []
        do {
            openedDataset = try PlanetDataset.open(root: config.data.root, bands: config.data.bands, missingFiles: config.data.missingFiles)
        } catch {
            problems.append("data.root: \(error)")
        }
        if config.outputs.submission {
            let sample = URL(fileURLWithPath: config.data.root).appendingPathComponent(PlanetDataset.sampleSubmissionFile).path
            if openedDataset != nil, !FileManager.default.fileExists(atPath: sample) {
                problems.append("\(sample): no such file: a submission needs the sample submission "
                                + "(set outputs.submission: false to run without one)")
            }
        }
        for (index, model) in config.models.enumerated() {
            if let problem = initWeightsProblem(model) { problems.append("models.\(index).init: \(problem)") }
        }
        if let problem = resultsFolderProblem() { problems.append(problem) }
        problems += dataParallelProblems()
        guard problems.isEmpty else { throw PreflightError(problems) }
    }

    /// What `mode: data` cannot train as one process would: a loss scored over the whole batch (soft
    /// F2: each rank would score its part alone), `swa` (its batch-norm pass runs on one rank's data),
    /// a batch smaller than the ranks.
    func dataParallelProblems() -> [String] {
        guard isDataParallel else { return [] }
        return config.models.enumerated().flatMap { index, model -> [String] in
            var problems: [String] = []
            if model.loss.kind != .bce {
                problems.append("models.\(index).loss: \(model.loss.kind.rawValue) scores the whole batch, which mode: data splits over the ranks: use bce, or mode: folds")
            }
            if model.swa != nil { problems.append("models.\(index).swa: not with mode: data yet (its batch-norm pass would see one rank's chips): use mode: folds") }
            if model.batchSize < cluster.size {
                problems.append("models.\(index).batch_size: \(model.batchSize) chips cannot be shared by \(cluster.size) ranks")
            }
            return problems
        }
    }

    /// Why the results folder cannot be used (nil when it can): it, or the nearest folder above it
    /// that exists, must be a folder this process can write in.
    func resultsFolderProblem() -> String? {
        let folder = URL(fileURLWithPath: results).standardizedFileURL.path
        var place = folder
        while true {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: place, isDirectory: &isFolder) {
                guard isFolder.boolValue else {
                    return place == folder ? "\(results): cannot create folder: a file of that name is in the way"
                        : "\(results): cannot create folder: \(place) is a file, not a folder"
                }
                if let reason = Folders.writeProblem(place) {
                    return place == folder ? "\(results): cannot write in it: \(reason)" : "\(results): cannot create folder: \(place): \(reason)"
                }
                return nil
            }
            let parent = (place as NSString).deletingLastPathComponent
            if parent == place || parent.isEmpty { return "\(results): cannot create folder: no existing folder above it" }
            place = parent
        }
    }

    /// Loads `model.init` into a fresh network the way training will, and says what would not fit.
    func initWeightsProblem(_ model: ModelSpec) -> String? {
        guard let file = model.initWeights else { return nil }
        var fresh = model
        fresh.initWeights = nil
        let network: Layer
        do { network = try FoldTrainer.makeModel(fresh, bands: config.data.bands.bandCount, observer: nil) } catch { return "\(error)" }
        let report: WeightTransfer.Report
        do { report = try WeightTransfer.load(file, into: network) } catch { return "\(error)" }
        let shapes = Dictionary(network.state(prefix: "").map { ($0.name, $0.entry.value.shape) }, uniquingKeysWith: { a, _ in a })
        // The 17-label classifier (ImageNet files have 1000 classes) and batch-norm step counters
        // are expected to start fresh; anything else is weights the user asked for and did not get.
        let unexpected = report.fresh.filter { item in
            !(shapes[item.name]?.first == PlanetLabels.count || item.name.hasSuffix("num_batches_tracked"))
        }
        let total = shapes.count
        guard !unexpected.isEmpty else { return nil }
        if config.lenientInit.contains(model.name) {
            progress.note("\(model.name): init \(file): \(unexpected.count) of \(total) tensors start fresh (init_strict: false)")
            return nil
        }
        let listed = unexpected.prefix(5).map { "\($0.name) (\($0.why))" }.joined(separator: ", ")
        let more = unexpected.count > 5 ? " and \(unexpected.count - 5) more" : ""
        let ignored = report.ignored.isEmpty ? "" : "; the file's \(report.ignored.count) other tensors fit no tensor of the model"
        return "\(file) does not fit \(model.name) (\(model.backbone), \(config.data.bands.bandCount) bands): "
            + "\(unexpected.count) of its \(total) tensors would start fresh: \(listed)\(more) "
            + "(loaded \(report.loaded.count), adapted \(report.adapted.count)\(ignored)); "
            + "set init_strict: false on the model to train anyway"
    }

    /// The per-band statistics of exactly this run's training chips (see `NormalizationStatistics.chipSet`):
    /// the data folder's `canopy-stats-BANDS.json` when it was computed on them, else the results
    /// folder's copy when that was, else computed now. Only statistics of the whole training set are
    /// stored in the data folder, so a `data.limit_train` trial never changes what a full run uses;
    /// either way the results folder keeps the copy every model used.
    /// The results folder's copy of the normalisation statistics the run used.
    var statisticsCopyPath: String { path("stats-\(config.data.bands.rawValue.replacingOccurrences(of: "+", with: "-")).json") }

    func loadStatistics() throws -> NormalizationStatistics {
        let bands = config.data.bands
        guard config.data.normalization == .dataset else {
            return NormalizationStatistics(bands: bands, mean: [Float](repeating: 0, count: bands.bandCount),
                                           std: [Float](repeating: 1, count: bands.bandCount), chips: 0)
        }
        let chips = dataset.train
        let wholeSet = chips.count == (openedDataset?.train.count ?? (config.data.limitTrain == nil ? chips.count : -1))
        let stored = NormalizationStatistics.path(root: config.data.root, bands: bands)
        let copy = statisticsCopyPath
        if wholeSet, FileManager.default.fileExists(atPath: stored) {
            do {
                let statistics = try NormalizationStatistics.read(stored)
                if statistics.describes(chips, bands: bands, isWholeSet: true) {
                    try statistics.write(to: copy)
                    return statistics
                }
                progress.note("\(stored) was computed on other chips (\(statistics.chips)); not used")
            } catch {
                progress.note("\(error); not used")
            }
        }
        if let statistics = try? NormalizationStatistics.read(copy), statistics.chipSet != nil,
           statistics.describes(chips, bands: bands, isWholeSet: wholeSet) {
            progress.note("per-band statistics of these \(chips.count) chips from \(copy)")
            return statistics
        }
        progress.note("computing per-band statistics of \(chips.count) chips")
        let (statistics, failures) = NormalizationStatistics.compute(chips, bands: bands, workers: config.data.workers)
        for failure in failures { progress.note("bad image: \(failure.error)") }
        if !failures.isEmpty && config.data.onBadImage == .fail {
            throw TrainingError("\(failures.count) chips did not decode (set data.on_bad_image: skip to leave them out)")
        }
        try statistics.write(to: copy)
        if !wholeSet {
            progress.note("statistics of this data.limit_train subset kept in \(copy) only (\(stored) is for the whole training set)")
        } else {
            do {
                try statistics.write(to: stored)
                progress.note("statistics stored as \(stored) and \(copy)")
            } catch {
                progress.note("cannot store statistics with the data (\(error)); kept in \(copy) only")
            }
        }
        return statistics
    }
}
