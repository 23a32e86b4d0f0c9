import Evaluation
import Foundation
import PlanetData
import Training

extension PipelineRunner {
    /// What the report's tables are made of, gathered model by model.
    private struct ReportParts {
        var methods: [MethodScore] = []
        var sections: [ReportSection] = []
        var training: [TrainingCurve] = []
    }

    /// The run's report: each method's out-of-fold (and, with known test labels, test) F2; sections
    /// for every model's folds, every model out of fold, the ensemble and the test chips; training
    /// curves; a grid of chips with their true and predicted tags.
    func report() throws {
        guard config.outputs.report else { return }
        let decisions = try readJSON(DecisionRecord.self, from: path("thresholds.json"))
        var parts = ReportParts()
        for model in config.models { try addModel(model, to: &parts) }
        let ensembleOOF = try ProbabilityTable.read(path("predictions", "ensemble-oof.csv"))
        let ensembleTest = try ProbabilityTable.read(path("predictions", "ensemble-test.csv"))
        let ensembleRecord = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        let decided = addEnsemble(oof: ensembleOOF, test: ensembleTest, method: ensembleRecord.methodName, decisions: decisions, to: &parts)
        let skipped = skippedChips()
        let report = RunReport(title: "Canopy: \(config.name)", createdBy: "canopy run \(reportSource)",
                               dataset: runDescription(skipped: skipped, ensemble: ensembleRecord.methodName, decisions: decisions),
                               sections: parts.sections, methods: parts.methods, training: parts.training,
                               samples: sampleChips(decided: decided, probabilities: ensembleOOF),
                               notes: dataset.problems.summary + skippedChipNotes(skipped))
        let written = try ReportWriter.write(report, to: results)
        progress.note("wrote " + written.joined(separator: ", "))
    }

    private static func score(_ table: ProbabilityTable, _ decision: DecisionMethod, weather: Bool, against truth: [LabelSet]) -> Double {
        Metrics.meanF2(truth: truth, predicted: decision.decide(table, weatherRule: weather))
    }

    /// A model's rows of the method table (untuned and tuned, with and without TTA), a section per
    /// fold and one out of fold, and its folds' training curves.
    private func addModel(_ model: ModelSpec, to parts: inout ReportParts) throws {
        let truth = self.truth, testTruth = self.testTruth, foldOf = foldOfChip
        let plain = try ProbabilityTable.read(path("predictions", "\(model.name)-oof-notta.csv"))
        let oof = try ProbabilityTable.read(path("predictions", "\(model.name)-oof.csv"))
        let test = try ProbabilityTable.read(path("predictions", "\(model.name)-test.csv"))
        let plainBest = ThresholdSearch.global(probabilities: plain.rows, truth: truth)
        let best = ThresholdSearch.global(probabilities: oof.rows, truth: truth)
        parts.methods.append(MethodScore(method: "\(model.name): p >= 0.5, no TTA",
                                         outOfFoldMeanF2: Self.score(plain, .global(0.5), weather: false, against: truth)))
        parts.methods.append(MethodScore(method: "\(model.name): tuned threshold \(String(format: "%.2f", plainBest.threshold)), no TTA",
                                         outOfFoldMeanF2: plainBest.meanF2))
        if config.tta != .none {
            parts.methods.append(MethodScore(method: "\(model.name): tuned threshold \(String(format: "%.2f", best.threshold)), TTA \(config.tta.rawValue)",
                                             outOfFoldMeanF2: best.meanF2,
                                             testMeanF2: testTruth.map { Self.score(test, .global(best.threshold), weather: false, against: $0) }))
        } else if let testTruth {
            parts.methods[parts.methods.count - 1].testMeanF2 = Self.score(test, .global(plainBest.threshold), weather: false, against: testTruth)
        }
        let thresholds = [Float](repeating: best.threshold, count: PlanetLabels.count)
        for fold in config.folds.trained {
            let rows = truth.indices.filter { foldOf[$0] == fold }
            let probabilities = rows.map { oof.rows[$0] }, foldTruth = rows.map { truth[$0] }
            parts.sections.append(ReportSection.make(name: "\(model.name) fold \(fold)", kind: .fold, truth: foldTruth, probabilities: probabilities,
                                                     thresholds: thresholds, decided: probabilities.map { Metrics.decide($0, thresholds: thresholds) }))
            if let record = try? readJSON(FoldRecord.self, from: foldFolder(model, fold) + "/fold.json") {
                parts.training.append(TrainingCurve(model: model.name, fold: fold, points: record.history.map {
                    TrainingPoint(epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss,
                                  validationMeanF2: $0.validationMeanF2, learningRate: Double($0.learningRate), seconds: $0.seconds)
                }))
            }
        }
        parts.sections.append(ReportSection.make(name: "\(model.name) out-of-fold", kind: .model, truth: truth, probabilities: oof.rows,
                                                 thresholds: thresholds, decided: oof.rows.map { Metrics.decide($0, thresholds: thresholds) }))
    }

    /// The ensemble's row (with more than one model), every decision rule's, and the sections of the
    /// chosen decision out of fold and on the test chips (when their labels are known). Returns the
    /// chosen decision's tags out of fold.
    private func addEnsemble(oof: ProbabilityTable, test: ProbabilityTable, method: String, decisions: DecisionRecord,
                             to parts: inout ReportParts) -> [LabelSet] {
        let truth = self.truth, testTruth = self.testTruth
        if config.models.count > 1 {
            let best = ThresholdSearch.global(probabilities: oof.rows, truth: truth)
            parts.methods.append(MethodScore(method: "ensemble (\(method)): tuned threshold \(String(format: "%.2f", best.threshold))",
                                             outOfFoldMeanF2: best.meanF2,
                                             testMeanF2: testTruth.map { Self.score(test, .global(best.threshold), weather: false, against: $0) }))
        }
        for candidate in decisions.candidates where candidate.rule != .untuned {
            parts.methods.append(MethodScore(method: "final decision: \(candidate.name)\(candidate == decisions.chosen ? " (chosen)" : "")",
                                             outOfFoldMeanF2: candidate.outOfFoldMeanF2, testMeanF2: candidate.testMeanF2))
        }
        let chosen = decisions.chosen
        let thresholds = chosen.decision.thresholdsForReport
        let decided = chosen.decision.decide(oof, weatherRule: chosen.weatherRule)
        parts.sections.append(ReportSection.make(name: "ensemble out-of-fold (\(chosen.name))", kind: .ensemble, truth: truth,
                                                 probabilities: oof.rows, thresholds: thresholds, decided: decided))
        if let testTruth {
            parts.sections.append(ReportSection.make(name: "test chips (\(chosen.name))", kind: .ensemble, truth: testTruth, probabilities: test.rows,
                                                     thresholds: thresholds, decided: chosen.decision.decide(test, weatherRule: chosen.weatherRule)))
        }
        return decided
    }

    /// The report's notes on chips that did not decode.
    private func skippedChipNotes(_ skipped: [SkippedChipRecord]) -> [String] {
        let skippedTrain = skipped.filter { $0.set == .train }, skippedTest = skipped.filter { $0.set == .test }
        var notes: [String] = []
        if !skippedTrain.isEmpty {
            notes.append("\(skippedTrain.count) training chips did not decode and are left out of every metric, threshold and statistic (skipped-chips.csv):")
        }
        for chip in skippedTrain { notes.append("skipped training chip \(chip.name): \(chip.error)") }
        if !skippedTest.isEmpty {
            notes.append("\(skippedTest.count) test chips did not decode: their submission rows are empty (skipped-chips.csv):")
        }
        for chip in skippedTest { notes.append("skipped test chip \(chip.name): \(chip.error)") }
        return notes
    }

    /// Sample chips: spread over the training chips (their out-of-fold predictions have a truth to compare).
    private func sampleChips(decided: [LabelSet], probabilities: ProbabilityTable) -> [SampleChip] {
        let scored = scoredTrain, truth = self.truth
        let count = min(config.outputs.sampleChips, scored.count)
        return (0..<count).map { i -> SampleChip in
            let index = i * scored.count / max(count, 1)
            let chip = scored[index]
            return SampleChip(name: chip.name, imagePath: chip.jpegPath ?? chip.tiffPath ?? "", truth: truth[index],
                              predicted: decided[index], probabilities: probabilities.rows[index])
        }
    }

    /// The report's lines on the data, the folds and models, and the decisions.
    private func runDescription(skipped: [SkippedChipRecord], ensemble: String, decisions: DecisionRecord) -> [String] {
        let skippedTrain = skipped.filter { $0.set == .train }.count, skippedTest = skipped.count - skippedTrain
        var description = ["\(config.data.root): \(dataset.train.count) training chips, \(dataset.test.count) test chips, bands \(dataset.bands.rawValue)"
                           + (skipped.isEmpty ? "" : " (\(skippedTrain) training and \(skippedTest) test chips did not decode: left out)"),
                           "\(config.folds.k) folds (seed \(config.folds.seed))"
                               + (config.folds.train.map { ", trained: " + $0.map(String.init).joined(separator: ", ") } ?? "") + ", models: " + config.models.map {
                               "\($0.name) (\($0.backbone), \($0.inputSize) px, \($0.epochs) epochs)" }.joined(separator: ", "),
                           "test-time augmentation: \(config.tta.rawValue); ensemble: \(ensemble); decision: \(decisions.chosen.name)"
                           + (decisions.why.map { " (\($0))" } ?? "")]
        if config.folds.refit {
            let epochs = config.models.map { model in
                "\(model.name) \((try? readJSON(FoldRecord.self, from: refitFolder(model) + "/fold.json"))?.history.count ?? 0) epochs" }
            description.append("test predictions: each model refitted on all \(dataset.train.count) training chips for its folds' mean best epoch ("
                               + epochs.joined(separator: ", ") + "); out-of-fold figures and thresholds from the folds")
        }
        if testTruth != nil { description.append("test F2 is against \(PlanetDataset.testLabelsFile) (synthetic data)") }
        return description
    }
}

extension DecisionMethod {
    /// The thresholds a report lists per label (the expected-F2 rule has none: NaN-free zeros).
    var thresholdsForReport: [Float] {
        switch self {
        case .global(let threshold): [Float](repeating: threshold, count: PlanetLabels.count)
        case .perLabel(let thresholds): thresholds
        case .expectedF2: [Float](repeating: 0, count: PlanetLabels.count)
        }
    }
}
