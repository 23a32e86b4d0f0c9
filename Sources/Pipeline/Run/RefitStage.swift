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
        let folder = refitFolder(model)
        let plan = plan(folder: folder, trainingInputs: refitTrainingInputs(model), predictions: Self.refitTables)
        try run(unit: "\(model.name) refit", plan, model: model, fold: refitFold, kept: { "\($0.history.count) epochs" }, trainer: {
            let (epochs, foldBest) = try refitEpochs(model)
            var spec = model
            spec.epochs = epochs
            spec.earlyStopping = nil
            let trainer = FoldTrainer(spec: spec, fold: refitFold, folder: folder, train: dataset.train, validation: [],
                                      bands: dataset.bands, statistics: statistics, fingerprint: plan.trainingInputs.key(excluding: ["chips"]))
            return (trainer, " on all \(dataset.train.count) training chips for \(epochs) epochs (the folds' best epochs: "
                    + "\(foldBest.map(String.init).joined(separator: ", ")))")
        }, predict: {
            let test = try predict(predictor(for: model), bestNetwork(model, folder: folder), dataset.test, tta: config.tta,
                                   what: "\(model.name) refit test\(config.tta == .none ? "" : ", TTA \(config.tta.rawValue)")")
            if writesTables { try table(dataset.test, test).write(to: folder + "/test.csv") }
            return test.skipped.map { SkippedChipRecord(set: .test, name: $0.name, error: $0.error) }
        })
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
