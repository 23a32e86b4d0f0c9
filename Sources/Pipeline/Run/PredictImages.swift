import Cluster
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
        try EngineSettings.with(engine) { try predictAllImages(in: folder, to: output) }
    }

    private func predictAllImages(in folder: String, to output: String) throws -> ImagePredictionSummary {
        let chips = try PlanetDataset.chips(inFolder: folder, bands: dataset.bands)
        var ensembleRecord = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        if config.models.count > 1, ensembleRecord.method == .ridge, ensembleRecord.stacker == nil {
            // Results from before the stacker was recorded: refit it (deterministic, milliseconds).
            try ensemble()
            ensembleRecord = try readJSON(EnsembleRecord.self, from: path("ensemble.json"))
        }
        // One model needs no combining (ensemble.json then says "single model").
        let method = config.models.count > 1 ? ensembleRecord.method : nil
        if config.models.count > 1 && method == nil {
            throw TrainingError("\(path("ensemble.json")): a single model's record, for \(config.models.count) models")
        }
        let decision = try readJSON(DecisionRecord.self, from: path("thresholds.json")).chosen

        // Every fold's network of every model, with its best weights (or each model's refit).
        let networks: [[Layer]] = try config.models.map { try predictingNetworks($0) }
        // One loader per input size, read in step: the same batch size keeps their batches aligned.
        let sizes = Array(Set(config.models.map(\.inputSize))).sorted()
        let batchSize = Predictor.inferenceBatch(training: config.models.map(\.batchSize).max()!, inputSize: sizes.last!)
        let predictors = sizes.map { size in
            Predictor(bands: dataset.bands, statistics: statistics, inputSize: size, batchSize: batchSize,
                      workers: max(1, config.data.workers / sizes.count), onBadImage: config.data.onBadImage)
        }
        // Over the ranks of an mpirun job, batch b of the folder is rank b mod size's; in each round the
        // ranks' batches, gathered on rank 0 in rank order, are the folder's next batches in order.
        let shard = ImageShard(chips: chips.count, batchSize: batchSize, rank: cluster.rank, ranks: cluster.size)
        let mine = shard.chipIndices.map { chips[$0] }
        let loaders = predictors.map { $0.loader(for: mine) }
        let epochs = loaders.map { $0.epoch(0) }

        let writer = cluster.isRoot ? try AtomicFileWriter(path: output) : nil
        try writer?.write(Array((["image_name", "tags"] + PlanetLabels.names).joined(separator: ",").utf8) + [10])
        let started = Date()
        var done = 0, written = 0
        let what = "predict \(folder)"
        for _ in 0..<shard.rounds {
            let batches = try epochs.map { try $0.next() }
            let rows = try batches[0].map { first -> String in
                guard batches.allSatisfy({ $0?.chipIndices == first.chipIndices }) else {
                    throw PredictionError("the loaders for input sizes \(sizes) fell out of step at batch \(first.index)")
                }
                done += first.count
                return first.count > 0 ? try imageRows(batches.map { $0! }, sizes: sizes, predictors: predictors, networks: networks,
                                                       method: method, ensembleRecord: ensembleRecord, decision: decision, folder: folder) : ""
            } ?? ""
            for part in try cluster.gather(Array(rows.utf8), "predicted rows of \(folder)") where !part.isEmpty {
                try writer?.write(part)
                written += part.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            }
            progress.predictionProgress(what: what, done: done, total: mine.count,
                                        imagesPerSecond: Double(done) / Date().timeIntervalSince(started))
        }
        try writer?.commit()
        let skippedHere = loaders.flatMap(\.skipped).reduce(into: [SkippedChip]()) { list, chip in
            if !list.contains(where: { $0.name == chip.name }) { list.append(chip) }
        }
        let skipped = Array(try cluster.gather(skippedHere, "chips skipped in \(folder)").joined())
        return ImagePredictionSummary(chips: chips.count, written: written, skipped: skipped, decision: decision.name)
    }

    /// One batch's CSV rows: every model's folds averaged, the models combined, tags by `decision`.
    private func imageRows(_ batches: [Batch], sizes: [Int], predictors: [Predictor], networks: [[Layer]], method: EnsembleMethod?,
                           ensembleRecord: EnsembleRecord, decision: DecisionCandidate, folder: String) throws -> String {
        let perModel: [ProbabilityTable] = try config.models.indices.map { m in
            let sizeIndex = sizes.firstIndex(of: config.models[m].inputSize)!
            let batch = batches[sizeIndex]
            let folds = try networks[m].map { network in
                ProbabilityTable(names: batch.names, rows: try predictors[sizeIndex].probabilityRows(network, batch: batch, tta: config.tta))
            }
            return try ProbabilityTable.mean(of: folds, context: "\(config.models[m].name) folds")
        }
        let combined = try method?.apply(perModel, weights: ensembleRecord.weights, voteThresholds: ensembleRecord.voteThresholds,
                                         stacker: ensembleRecord.stacker) ?? perModel[0]
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
        return text
    }
}
