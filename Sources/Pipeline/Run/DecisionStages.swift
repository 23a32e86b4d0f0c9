import Evaluation
import Foundation
import PlanetData
import Training

/// The rules `tune` scores, each by the name thresholds.json and the report give it.
enum DecisionRule: String, CaseIterable, Sendable {
    case untuned = "p >= 0.5 (untuned)"
    case fixed, global
    case perLabel = "per_label"
    case expectedF2 = "expected_f2"

    /// The `thresholds.method` that names this rule (nil: the untuned rule, shown but never chosen).
    var method: ThresholdConfig.Method? {
        switch self {
        case .untuned: nil
        case .fixed: .fixed
        case .global: .global
        case .perLabel: .perLabel
        case .expectedF2: .expectedF2
        }
    }
}

/// One way of turning probabilities into tags, scored out of fold (and on the test chips when their
/// labels are known). In thresholds.json by its name (`per_label + weather rule`).
struct DecisionCandidate: Codable, Equatable {
    var rule: DecisionRule
    var decision: DecisionMethod
    var weatherRule: Bool
    var outOfFoldMeanF2: Double
    var testMeanF2: Double?

    static let weatherSuffix = " + weather rule"

    /// The rule's name, with the weather rule when it is applied.
    var name: String { rule.rawValue + (weatherRule ? Self.weatherSuffix : "") }

    init(rule: DecisionRule, decision: DecisionMethod, weatherRule: Bool, outOfFoldMeanF2: Double, testMeanF2: Double?) {
        self.rule = rule
        self.decision = decision
        self.weatherRule = weatherRule
        self.outOfFoldMeanF2 = outOfFoldMeanF2
        self.testMeanF2 = testMeanF2
    }

    enum CodingKeys: String, CodingKey { case name, decision, weatherRule, outOfFoldMeanF2, testMeanF2 }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        weatherRule = try c.decode(Bool.self, forKey: .weatherRule)
        let name = try c.decode(String.self, forKey: .name)
        let ruleName = weatherRule && name.hasSuffix(Self.weatherSuffix) ? String(name.dropLast(Self.weatherSuffix.count)) : name
        guard let rule = DecisionRule(rawValue: ruleName) else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c, debugDescription: "unknown decision rule \"\(name)\"")
        }
        self.rule = rule
        decision = try c.decode(DecisionMethod.self, forKey: .decision)
        outOfFoldMeanF2 = try c.decode(Double.self, forKey: .outOfFoldMeanF2)
        testMeanF2 = try c.decodeIfPresent(Double.self, forKey: .testMeanF2)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(decision, forKey: .decision)
        try c.encode(weatherRule, forKey: .weatherRule)
        try c.encode(outOfFoldMeanF2, forKey: .outOfFoldMeanF2)
        try c.encodeIfPresent(testMeanF2, forKey: .testMeanF2)
    }
}

/// `thresholds.json`: every candidate decision and the one the submission uses.
struct DecisionRecord: Codable {
    var chosen: DecisionCandidate
    var candidates: [DecisionCandidate]
    /// Why `chosen` won, in a sentence (printed, and in the report).
    var why: String?
}

/// The candidate `thresholds` asks for, and why. `method: best` compares every eligible candidate;
/// a named method compares its own variants. Eligible: with the weather rule under `weather_rule:
/// true`, without under `false`, both under `auto`. Candidates come in order, each rule without the
/// weather rule before it with, and a later one must score strictly higher to win: so under `auto`
/// the rule is kept only when it raises out-of-fold F2. The untuned `p >= 0.5` is never chosen.
func chooseDecision(_ candidates: [DecisionCandidate], thresholds: ThresholdConfig) -> (chosen: DecisionCandidate, why: String) {
    let eligible = candidates.filter { candidate in
        guard candidate.rule != .untuned else { return false }
        switch thresholds.weatherRule {
        case .on: return candidate.weatherRule
        case .off: return !candidate.weatherRule
        case .auto: return true
        }
    }.filter { thresholds.method == .best || $0.rule.method == thresholds.method }
    var chosen = eligible[0]
    for candidate in eligible.dropFirst() where candidate.outOfFoldMeanF2 > chosen.outOfFoldMeanF2 { chosen = candidate }
    let score = String(format: "%.4f", chosen.outOfFoldMeanF2)
    var why = thresholds.method == .best
        ? "the highest out-of-fold mean F2 (\(score)) of the \(eligible.count) rules compared"
        : "thresholds.method \(thresholds.method.rawValue) (out-of-fold mean F2 \(score))"
    if let runnerUp = eligible.filter({ $0 != chosen }).max(by: { $0.outOfFoldMeanF2 < $1.outOfFoldMeanF2 }), thresholds.method == .best {
        why += String(format: "; next: %@ %.4f", runnerUp.name, runnerUp.outOfFoldMeanF2)
    }
    if thresholds.weatherRule == .auto, let other = eligible.first(where: { $0.rule == chosen.rule && $0.weatherRule != chosen.weatherRule }) {
        why += String(format: chosen.weatherRule ? "; weather rule kept: it raises %@ from %.4f" : "; weather rule left out: with it %@ scores %.4f, no higher",
                      chosen.rule.rawValue, other.outOfFoldMeanF2)
    }
    return (chosen, why)
}

/// The rules `tune` scores, in order, tuned on the out-of-fold `probabilities`: the global threshold,
/// and per label by coordinate ascent from it. With `thresholds.shrinkage` K > 0, `per_label` is the
/// ascent's thresholds shrunk toward the global one (`ThresholdSearch.shrink`), and the note says what
/// the unshrunk ones score. The shrunk thresholds replace `per_label` rather than join the list as a
/// rule of their own: both are fitted to these same chips, and the unshrunk ones are (nearly) their
/// optimum, so out of fold they all but always score higher and `best` would never pick a separate
/// shrunk rule, whatever it does on new chips. Asking for shrinkage is the choice to trade that
/// in-sample score; `best` still weighs the shrunk rule against the global one and expected F2.
///
/// With a `bias` (`thresholds.debias`), the global and per-label searches and the shrinkage run on
/// the probabilities with it undone, and their thresholds are mapped back to the models' own
/// probabilities (so `global` becomes one threshold per label there). `expected_f2` decides on the
/// probabilities as they are.
func decisionRules(probabilities: [[Float]], truth: [LabelSet], thresholds settings: ThresholdConfig, bias: TrainingBias = .none)
    -> (rules: [(DecisionRule, DecisionMethod)], note: String?) {
    let tuning = bias.isNone ? probabilities : bias.unbiased(rows: probabilities)
    let global = ThresholdSearch.global(probabilities: tuning, truth: truth)
    let tuned = ThresholdSearch.perLabel(probabilities: tuning, truth: truth,
                                         start: [Float](repeating: global.threshold, count: PlanetLabels.count),
                                         minimumSupport: settings.minimumSupport)
    let support = ThresholdSearch.support(truth)
    let shrunk = ThresholdSearch.shrink(tuned, toward: global.threshold, support: support, strength: settings.shrinkage)
    var notes: [String] = []
    if !bias.isNone {
        notes.append(String(format: "thresholds tuned with the models' positive weights (up to %.1f) and label smoothing %.3f undone: global %.2f there",
                            exp(bias.logOddsFactors.max() ?? 0), bias.smoothing, global.threshold))
    }
    if settings.shrinkage > 0 {
        let moved = (0..<PlanetLabels.count).filter { shrunk[$0] != tuned[$0] }.map {
            String(format: "%@ %.3f -> %.3f (%d positives)", PlanetLabels.names[$0], tuned[$0], shrunk[$0], support[$0])
        }
        notes.append(String(format: "per_label: thresholds shrunk toward the global %.2f with shrinkage %d (unshrunk, out-of-fold mean F2 %.4f; shrunk %.4f): ",
                            global.threshold, settings.shrinkage,
                            ThresholdSearch.meanF2(probabilities: tuning, truth: truth, thresholds: tuned),
                            ThresholdSearch.meanF2(probabilities: tuning, truth: truth, thresholds: shrunk))
            + (moved.isEmpty ? "no threshold moved" : moved.joined(separator: ", ")))
    }
    let globalDecision: DecisionMethod = bias.isNone ? .global(global.threshold)
        : .perLabel(bias.biased(thresholds: [Float](repeating: global.threshold, count: PlanetLabels.count)))
    let rules: [(DecisionRule, DecisionMethod)] = [
        (.untuned, .global(0.5)), (.fixed, .global(settings.fixed)), (.global, globalDecision),
        (.perLabel, .perLabel(bias.isNone ? shrunk : bias.biased(thresholds: shrunk))), (.expectedF2, .expectedF2),
    ]
    return (rules, notes.isEmpty ? nil : notes.joined(separator: "; "))
}

/// `ensemble.json`: how the models were combined.
struct EnsembleRecord: Codable {
    /// Nil with one model: nothing combined (the file says `"single model"`).
    var method: EnsembleMethod? {
        get { combination.method }
        set { combination.method = newValue }
    }
    private var combination: Combination
    var models: [String]
    var weights: [Float]?
    var voteThresholds: [Float]?
    /// `ridge`: the stacker fitted on all out-of-fold chips, applied to new chips by `canopy predict --images`.
    var stacker: RidgeStacker?

    static let singleModel = "single model"

    /// The method's name, as the file, the run and the report give it.
    var methodName: String { method?.rawValue ?? Self.singleModel }

    init(method: EnsembleMethod?, models: [String]) {
        combination = Combination(method: method)
        self.models = models
    }

    enum CodingKeys: String, CodingKey { case combination = "method", models, weights, voteThresholds, stacker }

    /// `method` in the file: the method's name, or "single model".
    private struct Combination: Codable {
        var method: EnsembleMethod?

        init(method: EnsembleMethod?) { self.method = method }

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            let name = try c.decode(String.self)
            method = EnsembleMethod(rawValue: name)
            if method == nil && name != EnsembleRecord.singleModel {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown ensemble method \"\(name)\"")
            }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(method?.rawValue ?? EnsembleRecord.singleModel)
        }
    }
}

extension PipelineRunner {
    // MARK: - predict

    /// Each model's out-of-fold table (every training chip of a trained fold that decoded, predicted by
    /// the fold that held it out) and its test table (the mean of the trained folds' tables, or its refit's), and
    /// `skipped-chips.csv`.
    func assemblePredictions() throws {
        cache.skipped = nil
        try writeSkippedChips()
        let names = scoredTrain.map(\.name)
        for model in config.models {
            for variant in ["oof", "oof-notta"] {
                var byName: [String: [Float]] = [:]
                for fold in config.folds.trained {
                    let table = try ProbabilityTable.read(foldFolder(model, fold) + "/\(variant).csv")
                    for (name, row) in zip(table.names, table.rows) { byName[name] = row }
                }
                let rows = try names.map { name throws(TrainingError) in
                    guard let row = byName[name] else { throw TrainingError("\(model.name): no out-of-fold prediction for \(name)") }
                    return row
                }
                try ProbabilityTable(names: names, rows: rows).write(to: path("predictions", "\(model.name)-\(variant).csv"))
            }
            try modelTestTable(model).write(to: path("predictions", "\(model.name)-test.csv"))
            let oof = try ProbabilityTable.read(path("predictions", "\(model.name)-oof.csv"))
            let best = ThresholdSearch.global(probabilities: oof.rows, truth: truth)
            progress.note(String(format: "%@: out-of-fold mean F2 %.4f at threshold %.2f", model.name, best.meanF2, best.threshold))
        }
    }

    // MARK: - ensemble

    func ensemble() throws {
        let oof = try config.models.map { try ProbabilityTable.read(path("predictions", "\($0.name)-oof.csv")) }
        let test = try config.models.map { try ProbabilityTable.read(path("predictions", "\($0.name)-test.csv")) }
        var record = EnsembleRecord(method: config.models.count == 1 ? nil : config.ensemble.method, models: config.models.map(\.name))
        let combinedOOF: ProbabilityTable, combinedTest: ProbabilityTable
        if config.models.count == 1 {
            (combinedOOF, combinedTest) = (oof[0], test[0])
        } else {
            let output = try config.ensemble.method.combine(
                oof: oof, truth: truth, folds: foldOfChip, test: test, lambda: Double(config.ensemble.ridgeLambda))
            (combinedOOF, combinedTest) = (output.oof, output.test)
            record.weights = output.weights
            record.voteThresholds = output.voteThresholds
            record.stacker = output.stacker
        }
        try combinedOOF.write(to: path("predictions", "ensemble-oof.csv"))
        try combinedTest.write(to: path("predictions", "ensemble-test.csv"))
        try writeJSON(record, to: path("ensemble.json"))
        let best = ThresholdSearch.global(probabilities: combinedOOF.rows, truth: truth)
        progress.note(String(format: "ensemble (%@): out-of-fold mean F2 %.4f at threshold %.2f", record.methodName, best.meanF2, best.threshold))
    }

    // MARK: - tune

    /// Scores every decision rule out of fold, and picks the configured one (or the best).
    func tune() throws {
        let oof = try ProbabilityTable.read(path("predictions", "ensemble-oof.csv"))
        let test = try ProbabilityTable.read(path("predictions", "ensemble-test.csv"))
        let bias = config.thresholds.debias ? try trainingBias() : .none
        let (rules, tuningNote) = decisionRules(probabilities: oof.rows, truth: truth, thresholds: config.thresholds, bias: bias)
        if let tuningNote { progress.note(tuningNote) }
        var candidates: [DecisionCandidate] = []
        let testTruth = self.testTruth
        for (rule, decision) in rules {
            for weather in [false, true] where !(rule == .untuned && weather) {
                let oofF2 = Metrics.meanF2(truth: truth, predicted: decision.decide(oof, weatherRule: weather))
                let testF2 = testTruth.map { Metrics.meanF2(truth: $0, predicted: decision.decide(test, weatherRule: weather)) }
                candidates.append(DecisionCandidate(rule: rule, decision: decision,
                                                    weatherRule: weather, outOfFoldMeanF2: oofF2, testMeanF2: testF2))
            }
        }
        let (chosen, why) = chooseDecision(candidates, thresholds: config.thresholds)
        try writeJSON(DecisionRecord(chosen: chosen, candidates: candidates, why: why), to: path("thresholds.json"))
        for candidate in candidates {
            progress.note(String(format: "%-34@ out-of-fold mean F2 %.4f", candidate.name, candidate.outOfFoldMeanF2)
                          + (candidate.testMeanF2.map { String(format: "   test %.4f", $0) } ?? "") + (candidate == chosen ? "   <- chosen" : ""))
        }
        progress.note("decision: \(chosen.name): \(why)")
    }

    /// The bias of the ensemble's probabilities (`TrainingBias`): each model's BCE positive weights as
    /// its trained folds computed them on their training chips (log-averaged over the folds) and its
    /// label smoothing, averaged over the models with the ensemble's weights. A model trained on soft F2
    /// alone has none.
    func trainingBias() throws -> TrainingBias {
        let perModel = config.models.map { model -> TrainingBias in
            guard model.loss.kind != .softF2 else { return .none }
            return .average(config.folds.trained.map { fold in
                let weights = model.loss.positiveWeights.map { _ in LossSpec.balancedPositiveWeights(trainingChips(fold)) }
                return TrainingBias(positiveWeights: weights, smoothing: model.loss.labelSmoothing)
            })
        }
        guard perModel.count > 1 else { return perModel[0] }
        let record = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        return .average(perModel, weights: record.weights.map { $0.map(Double.init) })
    }

    // MARK: - submit

    /// Tags for every row of the sample submission, in its order. A test chip with no prediction (its
    /// image missing, or left out by a limit) gets an empty row, and a note says how many.
    func submit() throws {
        guard config.outputs.submission else { return }
        let record = try readJSON(DecisionRecord.self, from: path("thresholds.json"))
        let test = try ProbabilityTable.read(path("predictions", "ensemble-test.csv"))
        let tags = record.chosen.decision.decide(test, weatherRule: record.chosen.weatherRule)
        var byName: [String: LabelSet] = [:]
        for (name, set) in zip(test.names, tags) { byName[name] = set }
        let sampleNames = dataset.submissionNames
        guard !sampleNames.isEmpty else {
            progress.note("no \(PlanetDataset.sampleSubmissionFile) in \(config.data.root): no submission written")
            return
        }
        let missing = sampleNames.filter { byName[$0] == nil }
        if !missing.isEmpty { progress.note("\(missing.count) submission rows have no prediction and stay empty (first: \(missing[0]))") }
        let skippedTest = skippedChips().filter { $0.set == .test }
        if !skippedTest.isEmpty {
            progress.note("\(skippedTest.count) test chips did not decode: their submission rows are empty (see skipped-chips.csv)")
        }
        try Submission.write(names: sampleNames, tags: sampleNames.map { byName[$0] ?? LabelSet() }, sampleNames: sampleNames,
                             to: path("submission.csv"))
        progress.note("wrote \(path("submission.csv")): \(sampleNames.count) rows, decisions by \(record.chosen.name)")
    }
}
