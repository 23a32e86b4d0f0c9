import Evaluation
import Foundation
import PlanetData
import Training

extension PipelineRunner {
    /// The run's report: each method's out-of-fold (and, with known test labels, test) F2; sections
    /// for every model's folds, every model out of fold, the ensemble and the test chips; training
    /// curves; a grid of chips with their true and predicted tags.
    func report() throws {
        guard config.outputs.report else { return }
        let decisions = try readJSON(DecisionRecord.self, from: path("thresholds.json"))
        let truth = self.truth, testTruth = self.testTruth
        let foldOf = foldOfChip
        var methods: [MethodScore] = []
        var sections: [ReportSection] = []
        var training: [TrainingCurve] = []
        var notes: [String] = dataset.problems.summary
        let skipped = skippedChips()
        let skippedTrain = skipped.filter { $0.set == "train" }, skippedTest = skipped.filter { $0.set == "test" }
        if !skippedTrain.isEmpty {
            notes.append("\(skippedTrain.count) training chips did not decode and are left out of every metric, threshold and statistic (skipped-chips.csv):")
        }
        for chip in skippedTrain { notes.append("skipped training chip \(chip.name): \(chip.error)") }
        if !skippedTest.isEmpty {
            notes.append("\(skippedTest.count) test chips did not decode: their submission rows are empty (skipped-chips.csv):")
        }
        for chip in skippedTest { notes.append("skipped test chip \(chip.name): \(chip.error)") }

        func score(_ table: ProbabilityTable, _ decision: DecisionMethod, weather: Bool, against truth: [LabelSet]) -> Double {
            Metrics.meanF2(truth: truth, predicted: decision.decide(table, weatherRule: weather))
        }

        for model in config.models {
            let plain = try ProbabilityTable.read(path("predictions", "\(model.name)-oof-notta.csv"))
            let oof = try ProbabilityTable.read(path("predictions", "\(model.name)-oof.csv"))
            let test = try ProbabilityTable.read(path("predictions", "\(model.name)-test.csv"))
            let plainBest = ThresholdSearch.global(probabilities: plain.rows, truth: truth)
            let best = ThresholdSearch.global(probabilities: oof.rows, truth: truth)
            methods.append(MethodScore(method: "\(model.name): p >= 0.5, no TTA", outOfFoldMeanF2: score(plain, .global(0.5), weather: false, against: truth)))
            methods.append(MethodScore(method: "\(model.name): tuned threshold \(String(format: "%.2f", plainBest.threshold)), no TTA",
                                       outOfFoldMeanF2: plainBest.meanF2))
            if config.tta != .none {
                methods.append(MethodScore(method: "\(model.name): tuned threshold \(String(format: "%.2f", best.threshold)), TTA \(config.tta.rawValue)",
                                           outOfFoldMeanF2: best.meanF2,
                                           testMeanF2: testTruth.map { score(test, .global(best.threshold), weather: false, against: $0) }))
            } else if let testTruth {
                methods[methods.count - 1].testMeanF2 = score(test, .global(plainBest.threshold), weather: false, against: testTruth)
            }
            let thresholds = [Float](repeating: best.threshold, count: PlanetLabels.count)
            for fold in 0..<config.folds.k {
                let rows = truth.indices.filter { foldOf[$0] == fold }
                let probabilities = rows.map { oof.rows[$0] }, foldTruth = rows.map { truth[$0] }
                sections.append(ReportSection.make(name: "\(model.name) fold \(fold)", kind: .fold, truth: foldTruth, probabilities: probabilities,
                                                   thresholds: thresholds, decided: probabilities.map { Metrics.decide($0, thresholds: thresholds) }))
                if let record = try? readJSON(FoldRecord.self, from: foldFolder(model, fold) + "/fold.json") {
                    training.append(TrainingCurve(model: model.name, fold: fold, points: record.history.map {
                        TrainingPoint(epoch: $0.epoch, trainLoss: $0.trainLoss, validationLoss: $0.validationLoss,
                                      validationMeanF2: $0.validationMeanF2, learningRate: Double($0.learningRate), seconds: $0.seconds)
                    }))
                }
            }
            sections.append(ReportSection.make(name: "\(model.name) out-of-fold", kind: .model, truth: truth, probabilities: oof.rows,
                                               thresholds: thresholds, decided: oof.rows.map { Metrics.decide($0, thresholds: thresholds) }))
        }

        let ensembleOOF = try ProbabilityTable.read(path("predictions", "ensemble-oof.csv"))
        let ensembleTest = try ProbabilityTable.read(path("predictions", "ensemble-test.csv"))
        let ensembleRecord = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        if config.models.count > 1 {
            let best = ThresholdSearch.global(probabilities: ensembleOOF.rows, truth: truth)
            methods.append(MethodScore(method: "ensemble (\(ensembleRecord.methodName)): tuned threshold \(String(format: "%.2f", best.threshold))",
                                       outOfFoldMeanF2: best.meanF2,
                                       testMeanF2: testTruth.map { score(ensembleTest, .global(best.threshold), weather: false, against: $0) }))
        }
        for candidate in decisions.candidates where candidate.rule != .untuned {
            methods.append(MethodScore(method: "final decision: \(candidate.name)\(candidate == decisions.chosen ? " (chosen)" : "")",
                                       outOfFoldMeanF2: candidate.outOfFoldMeanF2, testMeanF2: candidate.testMeanF2))
        }

        let chosen = decisions.chosen
        let thresholds = chosen.decision.thresholdsForReport
        let decided = chosen.decision.decide(ensembleOOF, weatherRule: chosen.weatherRule)
        sections.append(ReportSection.make(name: "ensemble out-of-fold (\(chosen.name))", kind: .ensemble, truth: truth,
                                           probabilities: ensembleOOF.rows, thresholds: thresholds, decided: decided))
        let testDecided = chosen.decision.decide(ensembleTest, weatherRule: chosen.weatherRule)
        if let testTruth {
            sections.append(ReportSection.make(name: "test chips (\(chosen.name))", kind: .ensemble, truth: testTruth,
                                               probabilities: ensembleTest.rows, thresholds: thresholds, decided: testDecided))
        }

        // Sample chips: spread over the training chips (their out-of-fold predictions have a truth to compare).
        let scored = scoredTrain
        let count = min(config.outputs.sampleChips, scored.count)
        let samples = (0..<count).map { i -> SampleChip in
            let index = i * scored.count / max(count, 1)
            let chip = scored[index]
            return SampleChip(name: chip.name, imagePath: chip.jpegPath ?? chip.tiffPath ?? "", truth: truth[index],
                              predicted: decided[index], probabilities: ensembleOOF.rows[index])
        }
        var description = ["\(config.data.root): \(dataset.train.count) training chips, \(dataset.test.count) test chips, bands \(dataset.bands.rawValue)"
                           + (skipped.isEmpty ? "" : " (\(skippedTrain.count) training and \(skippedTest.count) test chips did not decode: left out)"),
                           "\(config.folds.k) folds (seed \(config.folds.seed)), models: " + config.models.map {
                               "\($0.name) (\($0.backbone), \($0.inputSize) px, \($0.epochs) epochs)" }.joined(separator: ", "),
                           "test-time augmentation: \(config.tta.rawValue); ensemble: \(ensembleRecord.methodName); decision: \(chosen.name)"
                           + (decisions.why.map { " (\($0))" } ?? "")]
        if testTruth != nil { description.append("test F2 is against \(PlanetDataset.testLabelsFile) (synthetic data)") }
        let report = RunReport(title: "Canopy: \(config.name)", createdBy: "canopy run \(reportSource)", dataset: description,
                               sections: sections, methods: methods, training: training, samples: samples, notes: notes)
        let written = try ReportWriter.write(report, to: results)
        progress.note("wrote " + written.joined(separator: ", "))
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
