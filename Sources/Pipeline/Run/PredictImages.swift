import Evaluation
import Foundation
import NN
import PlanetData
import Support
import Tensor
import Training

/// What `canopy predict --images` did.
public struct ImagePredictionSummary: Sendable {
    public var chips: Int
    public var written: Int
    public var skipped: [SkippedChip]
    public var decision: String
}

extension PipelineRunner {
    /// Tags and probabilities for the chips of any folder (`canopy predict PIPELINE --images DIR`),
    /// from the pipeline's trained models as the pipeline itself would predict its test chips: every
    /// model's folds (best weights, the pipeline's TTA) averaged, the models combined as the ensemble
    /// stage combined them (its fitted weights, vote thresholds or ridge stacker), and tags by the rule
    /// the tune stage chose. Call after `run(through: .tune)`.
    ///
    /// One pass over the images: each batch is decoded once and goes through every network, and each
    /// batch's rows are appended to `output` (through a temporary file, renamed at the end), so memory
    /// stays flat however many chips the folder holds. Columns: `image_name,tags`, then the 17
    /// ensemble probabilities.
    public func predictImages(in folder: String, to output: String) throws -> ImagePredictionSummary {
        let chips = try PlanetDataset.chips(inFolder: folder, bands: dataset.bands)
        var ensembleRecord = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        if config.models.count > 1, ensembleRecord.method == EnsembleMethod.ridge.rawValue, ensembleRecord.stacker == nil {
            // Results from before the stacker was recorded: refit it (deterministic, milliseconds).
            try ensemble()
            ensembleRecord = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        }
        let decision = try readJSON(DecisionRecord.self, from: path("thresholds.json")).chosen

        // Every fold's network of every model, with its best weights.
        let networks: [[Layer]] = try config.models.map { model in
            try (0..<config.folds.k).map { fold in
                let network = try FoldTrainer.makeModel(model, bands: dataset.bands.bandCount, observer: nil)
                let checkpoint = foldFolder(model, fold) + "/best.safetensors"
                do { try Checkpoint.load(into: network, from: checkpoint) } catch { throw TrainingError("\(error)") }
                return network
            }
        }
        // One loader per input size, read in step: the same batch size keeps their batches aligned.
        let sizes = Array(Set(config.models.map(\.inputSize))).sorted()
        let batchSize = Predictor.inferenceBatch(training: config.models.map(\.batchSize).max()!, inputSize: sizes.last!)
        let predictors = sizes.map { size in
            Predictor(bands: dataset.bands, statistics: statistics, inputSize: size, batchSize: batchSize,
                      workers: max(1, config.data.workers / sizes.count), onBadImage: config.data.onBadImage)
        }
        let loaders = predictors.map { $0.loader(for: chips) }
        let epochs = loaders.map { $0.epoch(0) }

        let writer = try AtomicFileWriter(path: output)
        try writer.write(Array((["image_name", "tags"] + PlanetLabels.names).joined(separator: ",").utf8) + [10])
        let started = Date()
        var done = 0, written = 0
        let what = "predict \(folder)"
        while true {
            let batches = try epochs.map { try $0.next() }
            guard let first = batches[0] else { break }
            guard batches.allSatisfy({ $0?.chipIndices == first.chipIndices }) else {
                throw PredictionError("the loaders for input sizes \(sizes) fell out of step at batch \(first.index)")
            }
            done += first.count
            guard first.count > 0 else { continue }
            let perModel: [ProbabilityTable] = try config.models.indices.map { m in
                let sizeIndex = sizes.firstIndex(of: config.models[m].inputSize)!
                let batch = batches[sizeIndex]!
                var sum = [Float](repeating: 0, count: PlanetLabels.count * batch.count)
                for network in networks[m] {
                    let probabilities = predictors[sizeIndex].probabilities(network, batch: batch, tta: config.tta)
                    for i in sum.indices { sum[i] += probabilities[i] }
                }
                let scale = 1 / Float(networks[m].count)
                let rows = (0..<batch.count).map { j in (0..<PlanetLabels.count).map { sum[$0 * batch.count + j] * scale } }
                for (j, row) in rows.enumerated() where !row.allSatisfy(\.isFinite) {
                    throw PredictionError("\(config.models[m].name)'s probabilities for \(batch.names[j]) are not finite: its weights hold NaN or infinity")
                }
                return ProbabilityTable(names: batch.names, rows: rows)
            }
            let combined = try combine(perModel, as: ensembleRecord)
            let tags = decision.decision.decide(combined, weatherRule: decision.weatherRule)
            var text = ""
            for (j, name) in combined.names.enumerated() {
                guard !name.contains(where: { $0 == "," || $0 == "\"" || $0.isNewline }) else {
                    throw DataError(file: folder, problem: "image name \"\(name)\" cannot be written to a CSV field")
                }
                text += name + "," + tags[j].tags
                for value in combined.rows[j] { text += "," + value.description }
                text += "\n"
            }
            try writer.write(Array(text.utf8))
            written += combined.count
            progress.predictionProgress(what: what, done: done, total: chips.count,
                                        imagesPerSecond: Double(done) / Date().timeIntervalSince(started))
        }
        try writer.commit()
        let skipped = loaders.flatMap(\.skipped).reduce(into: [SkippedChip]()) { list, chip in
            if !list.contains(where: { $0.name == chip.name }) { list.append(chip) }
        }
        return ImagePredictionSummary(chips: chips.count, written: written, skipped: skipped, decision: decision.name)
    }

    /// The models' tables for one batch combined as `record` says (the ensemble stage's fit).
    private func combine(_ tables: [ProbabilityTable], as record: EnsembleRecord) throws -> ProbabilityTable {
        guard tables.count > 1 else { return tables[0] }
        switch EnsembleMethod(rawValue: record.method) {
        case .mean: return try Ensemble.mean(tables)
        case .weightedMean:
            guard let weights = record.weights else { throw TrainingError("\(path("ensemble.json")): weighted_mean without weights") }
            return try Ensemble.weightedMean(tables, weights: weights)
        case .vote:
            guard let thresholds = record.voteThresholds else { throw TrainingError("\(path("ensemble.json")): vote without thresholds") }
            return try Ensemble.voteFractions(tables, thresholds: thresholds.map { [Float](repeating: $0, count: PlanetLabels.count) })
        case .ridge:
            guard let stacker = record.stacker else { throw TrainingError("\(path("ensemble.json")): ridge without its stacker") }
            return try stacker.apply(tables)
        case nil: throw TrainingError("\(path("ensemble.json")): unknown ensemble method \(record.method)")
        }
    }
}
