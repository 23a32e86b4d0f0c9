import Evaluation
import Foundation
import NN
import PlanetData
import Support
import Training

/// A chip that did not decode under `data.on_bad_image: skip`: left out of every table, metric and
/// threshold, listed in the report and in `skipped-chips.csv`.
struct SkippedChipRecord: Codable, Equatable {
    /// Where a chip comes from: out of fold (`train`) or the test chips.
    enum ChipSet: String, Codable { case train, test }
    var set: ChipSet
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
    /// With `swa`: what the averaged weights (best.safetensors) scored on the validation chips.
    var swa: AveragedRecord?
    var skipped: [SkippedChipRecord]
}

extension FoldRecord {
    /// The weights the fold predicts with: its best epoch's, or with `swa` the average of its last epochs.
    var kept: String { swa.map { "weights averaged over epochs \($0.firstEpoch)-\($0.lastEpoch)" } ?? "best epoch \(bestEpoch)" }
}

extension PipelineRunner {
    // MARK: - train

    /// Every model on every fold, each fold two units: training (reused when its inputs are those of
    /// the fold's record and its best weights are there; a fold stopped before its record was written
    /// resumes from `resume.safetensors` when that was made for the same split, settings,
    /// normalisation and `init`: a chip file fixed after a decode error does not start it over) and prediction of the fold's
    /// validation chips (with and without TTA) and the test chips (with TTA) from the best weights
    /// (reused when the weights, the TTA and the test chips are those it was made from).
    /// What `train()` finds for one unit (a model's fold, or its refit): its keys, its record, and
    /// what it can reuse.
    struct UnitPlan {
        var folder: String
        var trainingInputs: StageInputs
        var predictionInputs: StageInputs
        var old: FoldRecord?
        var trainingReused: Bool
        var predictionReused: Bool
    }

    /// The tables a trained fold's unit writes (`predictFold`), and a refit's.
    static let foldTables = ["oof.csv", "oof-notta.csv", "test.csv"]
    static let refitTables = ["test.csv"]

    /// What a finished unit leaves in `folder` for the train stage to count as done: its record and
    /// its `tables` (a deleted table redoes that unit's prediction).
    static func finishedUnitFiles(in folder: String, tables: [String]) -> [String] { (["fold.json"] + tables).map { folder + "/" + $0 } }

    func plan(_ model: ModelSpec, _ fold: Int) -> UnitPlan {
        plan(folder: foldFolder(model, fold), trainingInputs: trainingInputs(model, fold), predictions: Self.foldTables)
    }

    /// The unit in `folder` is reused when its record was made from these inputs and its best weights
    /// (for training) and `predictions` files (for prediction) are there.
    func plan(folder: String, trainingInputs: StageInputs, predictions: [String]) -> UnitPlan {
        let predictionInputs = self.predictionInputs(trainingKey: trainingInputs.key)
        let old = force ? nil : try? readJSON(FoldRecord.self, from: folder + "/fold.json")
        let trainingReused = old?.trainingKey == trainingInputs.key && FileManager.default.fileExists(atPath: FoldTrainer.bestPath(in: folder))
        let predictionReused = trainingReused && old?.predictionKey == predictionInputs.key
            && predictions.allSatisfy { FileManager.default.fileExists(atPath: folder + "/" + $0) }
        return UnitPlan(folder: folder, trainingInputs: trainingInputs, predictionInputs: predictionInputs, old: old,
                        trainingReused: trainingReused, predictionReused: predictionReused)
    }

    /// The chips fold `fold`'s network trains on: every training chip of the other folds. (Its loss's
    /// balanced weights are counted on them, and `thresholds.debias` counts them again.)
    func trainingChips(_ fold: Int) -> [DatasetChip] { dataset.train.filter { folds.foldOf[$0.name] != fold } }

    /// The chips fold `fold` holds out: its validation and out-of-fold chips.
    func heldOutChips(_ fold: Int) -> [DatasetChip] { dataset.train.filter { folds.foldOf[$0.name] == fold } }

    /// One unit's work (a trained fold or the refit): chips drawn a training epoch (more than the
    /// unit's chips when rare-label chips repeat), chips validated an epoch, and prediction views
    /// after training. For the run's ETA and `budget_minutes`.
    struct UnitWork {
        var fold: Int
        var drawn: Int
        var validated: Int
        var predictionViews: Int
    }

    func work(_ model: ModelSpec) -> [UnitWork] {
        let views = config.tta.symmetries.count
        var units = config.folds.trained.map { fold in
            let held = heldOutChips(fold), rest = trainingChips(fold)
            return UnitWork(fold: fold, drawn: model.oversampleRare?.drawnPerEpoch(rest) ?? rest.count, validated: held.count,
                            predictionViews: held.count * (config.tta == .none ? 1 : 1 + views) + dataset.test.count * views)
        }
        if config.folds.refit {
            units.append(UnitWork(fold: refitFold, drawn: model.oversampleRare?.drawnPerEpoch(dataset.train) ?? dataset.train.count,
                                  validated: 0, predictionViews: dataset.test.count * views))
        }
        return units
    }

    /// The whole train stage's work, for the run's ETA. A refit's epochs are chosen when its folds
    /// are done: until then, the model's.
    /// `only`: the jobs (model index × 10,000 + fold index) this rank runs, when it runs a share.
    func estimate(_ plans: [[UnitPlan]], only: Set<Int>? = nil) -> RunEstimate {
        var units: [RunEstimate.Unit] = []
        for (m, model) in config.models.enumerated() {
            for (f, unit) in work(model).enumerated() where f >= plans[m].count || !plans[m][f].predictionReused {
                if let only, f < plans[m].count, !only.contains(m * 10_000 + f) { continue }
                let trainingReused = f < plans[m].count && plans[m][f].trainingReused
                units.append(RunEstimate.Unit(model: model.name, fold: unit.fold, epochs: trainingReused ? 0 : model.epochs,
                                              trainingChips: unit.drawn, predictionViews: unit.predictionViews,
                                              relativeSize: { Double(model.trainingInputSize(epoch: $0)) / Double(model.inputSize) }))
            }
        }
        return RunEstimate(units: units)
    }

    /// Every (model, fold) job; over the ranks of an `mpirun` job (`mode: folds`), this rank's share
    /// of them, then (after every rank's folds are done) its share of the refits.
    func train() throws {
        cache.skipped = nil
        let plans = try agreedPlans(config.models.map { model in config.folds.trained.map { plan(model, $0) } })
        let jobs = config.models.indices.flatMap { m in config.folds.trained.indices.map { (m: m, f: $0) } }
        let mine = jobsOfThisRank(work: jobs.map { remainingWork(plans[$0.m][$0.f], model: config.models[$0.m], fold: $0.f) })
        progress.estimate = estimate(plans, only: Set(mine.map { jobs[$0].m * 10_000 + jobs[$0].f }))
        defer { progress.estimate = nil }
        for (m, f) in mine.map({ jobs[$0] }) {
            let model = config.models[m], fold = config.folds.trained[f]
            let plan = plans[m][f]
            try run(unit: "\(model.name) fold \(fold)", plan, model: model, fold: fold, trainer: {
                let trainer = FoldTrainer(spec: model, fold: fold, folder: plan.folder,
                                          train: self.trainingChips(fold), validation: self.heldOutChips(fold),
                                          bands: self.dataset.bands, statistics: self.statistics,
                                          fingerprint: plan.trainingInputs.key(excluding: ["chips"]))
                return (trainer, "")
            }, predict: { try self.predictFold(model, fold: fold, folder: plan.folder) })
        }
        try meetAfterTraining("the folds' training")
        guard config.folds.refit else { return }
        // A refit's epochs come from its model's folds, which are all done now.
        let refits = jobsOfThisRank(work: config.models.map { Double($0.epochs * dataset.train.count * $0.inputSize * $0.inputSize) })
        for m in refits { try refit(config.models[m]) }
        try meetAfterTraining("the refits")
    }

    /// A job's work still to do, for sharing the jobs over ranks: chip-epochs of training (none when
    /// reused) and prediction views (a third each), times the input's pixels.
    func remainingWork(_ plan: UnitPlan, model: ModelSpec, fold: Int) -> Double {
        guard !plan.predictionReused, let unit = work(model).first(where: { $0.fold == config.folds.trained[fold] }) else { return 0 }
        let epochs = plan.trainingReused ? 0 : Double(model.epochs) * Double(unit.drawn + unit.validated / 3)
        return (epochs + Double(unit.predictionViews) * RunEstimate.predictionShare) * Double(model.inputSize * model.inputSize)
    }

    /// Trains (or reuses) and predicts (or reuses) one unit. `trainer` makes the unit's trainer and
    /// what to say of it when training is redone; `kept` says which weights a record keeps.
    func run(unit: String, _ plan: UnitPlan, model: ModelSpec, fold: Int, kept: (FoldRecord) -> String = \.kept,
             trainer makeTrainer: () throws -> (FoldTrainer, String), predict: () throws -> [SkippedChipRecord]) throws {
        let recordPath = plan.folder + "/fold.json"
        if plan.predictionReused, let old = plan.old {
            decide("\(unit): training reused (\(kept(old))); predictions reused")
            return
        }
        var record: FoldRecord
        if plan.trainingReused, let old = plan.old {
            decide("\(unit): training reused (\(kept(old))); predictions redone (\(force ? "--force" : plan.predictionInputs.changes(from: old.prediction)))")
            record = old
        } else {
            let reason = force ? "--force" : plan.old == nil && FileManager.default.fileExists(atPath: recordPath)
                ? "its record is from an older Canopy" : plan.trainingInputs.changes(from: plan.old?.training)
            let (trainer, detail) = try makeTrainer()
            decide("\(unit): training redone (\(reason))\(detail); predictions redone")
            // A finished unit whose inputs changed starts over (its checkpoint was made from other
            // inputs); its old record goes first, so a stop from here on resumes. (In mode: data,
            // rank 0 alone changes files, before the ranks read the resume point together.)
            if cluster.isRoot || !isDataParallel {
                if force {
                    try? FileManager.default.removeItem(atPath: plan.folder)
                } else if FileManager.default.fileExists(atPath: recordPath) {
                    try? FileManager.default.removeItem(atPath: plan.folder + "/resume.safetensors")
                    try? FileManager.default.removeItem(atPath: recordPath)
                }
            }
            if isDataParallel { try cluster.barrier("\(unit): its folder ready") }
            trainer.loaderWorkers = config.data.workers
            trainer.loaderCacheBytes = config.data.cacheMB << 20
            trainer.onBadImage = config.data.onBadImage
            joinDataParallel(trainer)
            let outcome = try trainer.run(observer: progress)
            record = FoldRecord(trainingKey: plan.trainingInputs.key, training: plan.trainingInputs.dictionary, predictionKey: "", prediction: [:],
                                bestEpoch: outcome.bestEpoch, stoppedEarly: outcome.stoppedEarly, history: outcome.history,
                                swa: outcome.averaged, skipped: [])
            if trainer.writesFiles {
                if !config.outputs.checkpoints { try? FileManager.default.removeItem(atPath: trainer.lastPath) }
                // Training is kept even if prediction is stopped: a rerun then only predicts.
                try writeJSON(record, to: recordPath)
            }
            // Every rank predicts from the best weights rank 0 wrote.
            if isDataParallel { try cluster.barrier("\(unit): its weights written") }
        }
        record.skipped = try predict()
        progress.foldPredicted(model: model.name, fold: fold)
        record.predictionKey = plan.predictionInputs.key
        record.prediction = plan.predictionInputs.dictionary
        if cluster.isRoot || !isDataParallel { try writeJSON(record, to: recordPath) }
    }

    /// Whether this process writes a unit's tables (all but rank 0 of a data-parallel job, which
    /// only compute their part of the predictions).
    var writesTables: Bool { cluster.isRoot || !isDataParallel }

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
        let predictor = predictor(for: model)
        let validation = heldOutChips(fold)
        let plain = try predict(predictor, network, validation, tta: .none, what: "\(model.name) fold \(fold) validation")
        if writesTables { try table(validation, plain).write(to: folder + "/oof-notta.csv") }
        var skipped = plain.skipped.map { SkippedChipRecord(set: .train, name: $0.name, error: $0.error) }
        if config.tta != .none {
            let augmented = try predict(predictor, network, validation, tta: config.tta, what: "\(model.name) fold \(fold) validation, TTA \(config.tta.rawValue)")
            if writesTables { try table(validation, augmented).write(to: folder + "/oof.csv") }
        } else if writesTables {
            try table(validation, plain).write(to: folder + "/oof.csv")
        }
        let test = try predict(predictor, network, dataset.test, tta: config.tta,
                               what: "\(model.name) fold \(fold) test\(config.tta == .none ? "" : ", TTA \(config.tta.rawValue)")")
        if writesTables { try table(dataset.test, test).write(to: folder + "/test.csv") }
        skipped += test.skipped.map { SkippedChipRecord(set: .test, name: $0.name, error: $0.error) }
        for chip in skipped { progress.note("skipped \(chip.set.rawValue) chip \(chip.name): \(chip.error)") }
        return skipped
    }

    /// The predictor of `model`'s chips. Inference keeps no activations for backward: larger batches
    /// give the GEMMs wider products (at 64 px, 128 images run 25% faster per image than 32).
    func predictor(for model: ModelSpec) -> Predictor {
        Predictor(bands: dataset.bands, statistics: statistics, inputSize: model.inputSize,
                  batchSize: Predictor.inferenceBatch(training: model.batchSize, inputSize: model.inputSize),
                  workers: config.data.workers, onBadImage: config.data.onBadImage)
    }

    /// A prediction's rows as a table: the chips that decoded, in order.
    func table(_ chips: [DatasetChip], _ result: (probabilities: [[Float]], skipped: [SkippedChip])) -> ProbabilityTable {
        let left = Set(result.skipped.map(\.name))
        let kept = chips.indices.filter { !left.contains(chips[$0].name) }
        return ProbabilityTable(names: kept.map { chips[$0].name }, rows: kept.map { result.probabilities[$0] })
    }

    // MARK: - skipped chips

    /// The chips that did not decode, from the folds' records (every model's; a chip one model could
    /// not read is left out for all, so their tables stay aligned), train then test, in dataset order.
    func skippedChips() -> [SkippedChipRecord] {
        if let skipped = cache.skipped { return skipped }
        var byName: [String: SkippedChipRecord] = [:]
        for model in config.models {
            for fold in config.folds.trained {
                guard let record = try? readJSON(FoldRecord.self, from: foldFolder(model, fold) + "/fold.json") else { continue }
                for chip in record.skipped where byName[chip.set.rawValue + "/" + chip.name] == nil { byName[chip.set.rawValue + "/" + chip.name] = chip }
            }
        }
        let ordered = dataset.train.compactMap { byName["train/" + $0.name] } + dataset.test.compactMap { byName["test/" + $0.name] }
        cache.skipped = ordered
        return ordered
    }

    /// The training chips that count in metrics (every one of a trained fold that decoded), in
    /// dataset order.
    var scoredTrain: [DatasetChip] {
        let left = Set(skippedChips().filter { $0.set == .train }.map(\.name))
        let trained = Set(config.folds.trained), everyFold = config.folds.train == nil
        return left.isEmpty && everyFold ? dataset.train
            : dataset.train.filter { !left.contains($0.name) && (everyFold || trained.contains(folds.foldOf[$0.name]!)) }
    }

    /// The test chips that have a prediction (every one that decoded), in dataset order.
    var scoredTest: [DatasetChip] {
        let left = Set(skippedChips().filter { $0.set == .test }.map(\.name))
        return left.isEmpty ? dataset.test : dataset.test.filter { !left.contains($0.name) }
    }

    /// `skipped-chips.csv`: `set,image_name,error`, one row per chip left out (a header alone when none).
    func writeSkippedChips() throws {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        let lines = ["set,image_name,error"] + skippedChips().map { [field($0.set.rawValue), field($0.name), field($0.error)].joined(separator: ",") }
        try AtomicFile.write(Array((lines.joined(separator: "\n") + "\n").utf8), to: path("skipped-chips.csv"))
    }

    /// The network of `model` on `fold` with its best epoch's weights (with `swa`: the averaged ones).
    func bestNetwork(_ model: ModelSpec, fold: Int) throws -> Layer {
        try bestNetwork(model, folder: foldFolder(model, fold))
    }

    /// The network of `model` with the best weights kept in `folder`.
    func bestNetwork(_ model: ModelSpec, folder: String) throws -> Layer {
        let network = try FoldTrainer.makeModel(model, bands: dataset.bands.bandCount, observer: nil)
        let path = FoldTrainer.bestPath(in: folder)
        do { try Checkpoint.load(into: network, from: path) } catch { throw TrainingError(error.description) }
        return network
    }

    func predict(_ predictor: Predictor, _ network: Layer, _ chips: [DatasetChip], tta: TestTimeAugmentation,
                         what: String) throws -> (probabilities: [[Float]], skipped: [SkippedChip]) {
        let started = Date()
        let report = { (done: Int, total: Int) in
            self.progress.predictionProgress(what: what, done: done, total: total,
                                             imagesPerSecond: Double(done * tta.symmetries.count) / Date().timeIntervalSince(started))
        }
        if isDataParallel { return try predictor.predictShared(network, chips: chips, tta: tta, over: cluster, progress: report) }
        return try predictor.predictReportingSkips(network, chips: chips, tta: tta, progress: report)
    }
}
