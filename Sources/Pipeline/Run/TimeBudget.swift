import Foundation
import PlanetData
import Support
import Training

/// `budget_minutes`: the epochs that fit a run into its time budget, from measured rates.
///
/// Each model's `epochs` is its most. Before the train stage each model's seconds per training chip
/// are measured on a few batches (`FoldTrainer.measureSecondsPerTrainingChip`), at its input size and
/// at each progressive-resizing stage's; a model's work is then, per epoch, its drawn training chips
/// plus a third of a chip per validation chip (inference has no backward pass, as `RunEstimate`
/// counts it), over every trained fold and the refit, plus the prediction views after training. The
/// stages' epochs are kept whole (at their own rates); one factor s scales every model's epochs at
/// its input size alike: epochs = staged + max(1, ⌊s · (most − staged)⌋),
/// s = min(1, (budget left − prediction − stages) / the input-size epochs at their most).
///
/// The decision is kept in `budget.json` and reused while the budget, the work (chips, folds, refit,
/// TTA) and the models' settings are those it was made for, so a rerun (a TTA change, a report) keeps its epochs,
/// its trained folds and its bytes instead of measuring again.
struct TimeBudget {
    /// One model's measured work.
    struct ModelWork: Codable, Equatable {
        var name: String
        /// The model's settings with its `epochs` left out (what the rate belongs to).
        var settings: String
        var mostEpochs: Int
        var secondsPerChip: Double
        /// Training chip-equivalents of one epoch over every unit (validation at a third).
        var chipsPerEpoch: Double
        /// Chip-equivalents of the predictions after training (views at a third).
        var predictionChips: Double
        var epochs: Int
        /// The progressive-resizing stages, each at its own measured rate (none without it).
        var stages: [StageWork] = []

        var stagedEpochs: Int { stages.reduce(0) { $0 + $1.epochs } }
        /// Seconds of the stages' epochs, each at its own rate.
        var stageSeconds: Double { chipsPerEpoch * stages.reduce(0.0) { $0 + Double($1.epochs) * $1.secondsPerChip } }
        /// Seconds of one epoch at the model's input size.
        var epochSeconds: Double { chipsPerEpoch * secondsPerChip }
        var predictionSeconds: Double { secondsPerChip * predictionChips }

        /// Seconds of the model's training at `epochs` (more than its staged epochs).
        func trainingSeconds(epochs: Int) -> Double { stageSeconds + Double(epochs - stagedEpochs) * epochSeconds }
    }

    /// A progressive-resizing stage's epochs and measured seconds per training chip at its size.
    struct StageWork: Codable, Equatable {
        var inputSize: Int
        var epochs: Int
        var secondsPerChip: Double
    }

    struct Record: Codable, Equatable {
        var budgetMinutes: Float
        /// The chips, folds and TTA the work was counted for.
        var workload: String
        /// Seconds of the run spent before the budget was measured (preflight and prepare).
        var secondsBefore: Double
        var models: [ModelWork]
    }

    /// The epochs of each model: its staged epochs and ⌊s · the rest of its most⌋ (at least 1) with one
    /// s for all, the largest that fits.
    static func plan(availableSeconds: Double, models: [ModelWork]) -> [Int] {
        let fixed = models.reduce(0.0) { $0 + $1.predictionSeconds + $1.stageSeconds }
        let scalable = models.reduce(0.0) { $0 + $1.epochSeconds * Double($1.mostEpochs - $1.stagedEpochs) }
        let scale = scalable > 0 ? min(1, max(0, (availableSeconds - fixed) / scalable)) : 1
        return models.map { model in
            let rest = model.mostEpochs - model.stagedEpochs
            return model.stagedEpochs + min(rest, max(1, Int((scale * Double(rest)).rounded(.down))))
        }
    }
}

extension PipelineRunner {
    /// With `budget_minutes`, sets each model's epochs (its most scaled to fit, see `TimeBudget`),
    /// reusing `budget.json` when it was made for this budget and these models.
    func applyTimeBudget(startedAt: Date) throws {
        guard let minutes = config.budgetMinutes else { return }
        let file = path("budget.json")
        let settings = config.models.map(budgetSettings)
        let workload = "\(dataset.train.count) training chips, \(dataset.test.count) test chips, folds \(config.folds.k) "
            + "(seed \(config.folds.seed)) trained \(config.folds.trained)\(config.folds.refit ? " and a refit" : ""), tta \(config.tta.rawValue)"
        if !force, let old = try? readJSON(TimeBudget.Record.self, from: file), old.budgetMinutes == minutes, old.workload == workload,
           old.models.map(\.name) == config.models.map(\.name), old.models.map(\.settings) == settings,
           old.models.map(\.mostEpochs) == config.models.map(\.epochs) {
            for (index, work) in old.models.enumerated() { config.models[index].epochs = work.epochs }
            progress.note("budget \(Self.minutes(minutes)): epochs as decided before (budget.json): "
                          + old.models.map { "\($0.name) \($0.epochs) of \($0.mostEpochs)" }.joined(separator: ", "))
            return
        }
        var work: [TimeBudget.ModelWork] = []
        for (index, model) in config.models.enumerated() {
            let fold = config.folds.trained[0]
            let training = trainingChips(fold)
            let trainer = FoldTrainer(spec: model, fold: fold, folder: "", train: training, validation: [],
                                      bands: dataset.bands, statistics: statistics, fingerprint: "")
            trainer.loaderWorkers = config.data.workers
            trainer.loaderCacheBytes = config.data.cacheMB << 20
            trainer.onBadImage = config.data.onBadImage
            let seconds = try trainer.measureSecondsPerTrainingChip()
            let stages = try (model.progressiveResizing?.stages ?? []).map { stage in
                TimeBudget.StageWork(inputSize: stage.inputSize, epochs: stage.epochs,
                                     secondsPerChip: try trainer.measureSecondsPerTrainingChip(inputSize: stage.inputSize))
            }
            let units = self.work(model)
            let perEpoch = units.reduce(0.0) { $0 + Double($1.drawn) + Double($1.validated) * RunEstimate.predictionShare }
            let prediction = units.reduce(0.0) { $0 + Double($1.predictionViews) * RunEstimate.predictionShare }
            work.append(TimeBudget.ModelWork(name: model.name, settings: settings[index], mostEpochs: model.epochs, secondsPerChip: seconds,
                                             chipsPerEpoch: perEpoch, predictionChips: prediction, epochs: model.epochs, stages: stages))
        }
        let spent = Date().timeIntervalSince(startedAt)
        let epochs = TimeBudget.plan(availableSeconds: Double(minutes) * 60 - spent, models: work)
        for index in work.indices {
            // The epochs `swa` averages stay (at the model's size, after any stages).
            let least = work[index].stagedEpochs + (config.models[index].swa?.epochs ?? 1)
            work[index].epochs = min(work[index].mostEpochs, max(epochs[index], least))
            config.models[index].epochs = work[index].epochs
        }
        try writeJSON(TimeBudget.Record(budgetMinutes: minutes, workload: workload, secondsBefore: spent, models: work), to: file)
        let planned = work.reduce(spent) { $0 + $1.trainingSeconds(epochs: $1.epochs) + $1.predictionSeconds }
        progress.note("budget \(Self.minutes(minutes)): " + work.map { w in
            String(format: "%@ %d of %d epochs (%.1f ms a training chip)", w.name, w.epochs, w.mostEpochs, w.secondsPerChip * 1000)
        }.joined(separator: ", ") + String(format: "; training and predictions planned to end at %.1f min", planned / 60))
    }

    /// A model's settings but its epochs, as the stage keys see them.
    func budgetSettings(_ model: ModelSpec) -> String {
        var spec = model
        spec.epochs = 0
        var inputs = StageInputs()
        inputs.addModelSettings(spec)
        inputs.add("init", model.initWeights ?? "none")
        return inputs.key
    }

    static func minutes(_ value: Float) -> String { value == value.rounded() ? "\(Int(value)) min" : "\(value) min" }
}
