import Evaluation
import Foundation
import NN
import PlanetData
import Training

/// `folds.refit`: after a model's trained folds, one more network on every training chip, for the
/// epochs the folds chose out of fold (the mean of their best epochs, rounded), whose TTA test table
/// is the model's test table. The out-of-fold tables, thresholds and metrics still come from the
/// folds: the refit has no chip held out to be scored on.
///
/// It lives in `models/MODEL/refit/` (`best.safetensors` = its last epoch, `test.csv`, `fold.json`)
/// and trains under fold number `k` (one past the split's folds: its own batch order and augmentation
/// draws). It is reused as folds are: its training key is the trained folds' training keys (which fix
/// their best epochs), every training chip, the normalisation, the model's settings and `init`.
extension PipelineRunner {
    /// The fold number a refit trains under (seeds, logs): one past the split's folds.
    var refitFold: Int { config.folds.k }

    func refitFolder(_ model: ModelSpec) -> String { path("models", model.name, "refit") }

    func refitTrainingInputs(_ model: ModelSpec) -> StageInputs {
        var inputs = StageInputs()
        inputs.add("version", "canopy refit v1")
        inputs.add("folds", fingerprint(config.folds.trained.map { trainingInputs(model, $0).key }))
        inputs.add("chips", fingerprint(cache.trainIdentity))
        inputs.add("statistics", fingerprint(statistics) + dataset.bands.rawValue)
        inputs.addModelSettings(model)
        inputs.add("init", model.initWeights.map(initHash) ?? "none")
        return inputs
    }

    /// The refit's epochs: the mean of the trained folds' best epochs, rounded half up (at least 1).
    func refitEpochs(_ model: ModelSpec) throws -> (epochs: Int, foldBest: [Int]) {
        let best = try config.folds.trained.map { fold in
            do { return try readJSON(FoldRecord.self, from: foldFolder(model, fold) + "/fold.json").bestEpoch } catch {
                throw TrainingError("\(model.name) refit: fold \(fold)'s record cannot be read: \(error)")
            }
        }
        let mean = Double(best.reduce(0, +)) / Double(best.count)
        return (max(1, Int((mean + 0.5).rounded(.down))), best)
    }

    /// Trains (or reuses) and predicts (or reuses) the refit of `model`.
    func refit(_ model: ModelSpec) throws {
        let folder = refitFolder(model), recordPath = folder + "/fold.json"
        let trainingInputs = refitTrainingInputs(model)
        let predictionInputs = self.predictionInputs(trainingKey: trainingInputs.key)
        let old = force ? nil : try? readJSON(FoldRecord.self, from: recordPath)
        let trainingReused = old?.trainingKey == trainingInputs.key && FileManager.default.fileExists(atPath: FoldTrainer.bestPath(in: folder))
        if trainingReused, old?.predictionKey == predictionInputs.key, FileManager.default.fileExists(atPath: folder + "/test.csv") {
            decide("\(model.name) refit: training reused (\(old!.bestEpoch) epochs); predictions reused")
            return
        }
        var record: FoldRecord
        if trainingReused, let old {
            decide("\(model.name) refit: training reused (\(old.bestEpoch) epochs); predictions redone (\(force ? "--force" : predictionInputs.changes(from: old.prediction)))")
            record = old
        } else {
            let (epochs, foldBest) = try refitEpochs(model)
            decide("\(model.name) refit: training redone (\(force ? "--force" : trainingInputs.changes(from: old?.training))) on all "
                   + "\(dataset.train.count) training chips for \(epochs) epochs (the folds' best epochs: "
                   + "\(foldBest.map(String.init).joined(separator: ", "))); predictions redone")
            if force || old != nil { try? FileManager.default.removeItem(atPath: folder) }
            var spec = model
            spec.epochs = epochs
            spec.earlyStopping = nil
            let trainer = FoldTrainer(spec: spec, fold: refitFold, folder: folder, train: dataset.train, validation: [],
                                      bands: dataset.bands, statistics: statistics, fingerprint: trainingInputs.key(excluding: ["chips"]))
            trainer.loaderWorkers = config.data.workers
            trainer.onBadImage = config.data.onBadImage
            let outcome = try trainer.run(observer: progress)
            if !config.outputs.checkpoints { try? FileManager.default.removeItem(atPath: trainer.lastPath) }
            record = FoldRecord(trainingKey: trainingInputs.key, training: trainingInputs.dictionary, predictionKey: "", prediction: [:],
                                bestEpoch: outcome.bestEpoch, stoppedEarly: false, history: outcome.history, skipped: [])
            try writeJSON(record, to: recordPath)
        }
        let network = try bestNetwork(model, folder: folder)
        let predictor = predictor(for: model)
        let test = try predict(predictor, network, dataset.test, tta: config.tta,
                               what: "\(model.name) refit test\(config.tta == .none ? "" : ", TTA \(config.tta.rawValue)")")
        try table(dataset.test, test).write(to: folder + "/test.csv")
        record.skipped = test.skipped.map { SkippedChipRecord(set: .test, name: $0.name, error: $0.error) }
        progress.foldPredicted(model: model.name, fold: refitFold)
        record.predictionKey = predictionInputs.key
        record.prediction = predictionInputs.dictionary
        try writeJSON(record, to: recordPath)
    }

    /// The model's test table: its refit's, or the mean of its trained folds'.
    func modelTestTable(_ model: ModelSpec) throws -> ProbabilityTable {
        if config.folds.refit { return try ProbabilityTable.read(refitFolder(model) + "/test.csv") }
        let tests = try config.folds.trained.map { try ProbabilityTable.read(foldFolder(model, $0) + "/test.csv") }
        return try ProbabilityTable.mean(of: tests, context: "\(model.name) test tables")
    }

    /// The networks that predict new chips for `model`: its refit, or every trained fold's.
    func predictingNetworks(_ model: ModelSpec) throws -> [Layer] {
        if config.folds.refit { return [try bestNetwork(model, folder: refitFolder(model))] }
        return try config.folds.trained.map { try bestNetwork(model, fold: $0) }
    }
}
