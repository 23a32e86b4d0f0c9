import Evaluation
import Foundation
import NN
import PlanetData
import Training

/// What a finished fold leaves in `fold.json`: the key it was trained for, its history, and the chips
/// its predictions skipped.
struct FoldRecord: Codable {
    var key: String
    var bestEpoch: Int
    var stoppedEarly: Bool
    var history: [EpochRecord]
    var skipped: [String]
}

extension PipelineRunner {
    func foldKey(_ model: ModelSpec, _ fold: Int) -> String {
        var key = prepareKey
        key.add(model)
        key.add(config.tta)
        key.add(String(fold))
        return key.description
    }

    /// Every model on every fold: train (resuming), then predict the fold's validation chips (with
    /// and without TTA) and the test chips (with TTA) from the best epoch's weights.
    func train() throws {
        let foldOf = foldOfChip
        for model in config.models {
            for fold in 0..<config.folds.k {
                let folder = foldFolder(model, fold), key = foldKey(model, fold)
                let recordPath = folder + "/fold.json"
                if !force, let record = try? readJSON(FoldRecord.self, from: recordPath), record.key == key {
                    progress.note("\(model.name) fold \(fold): done (best epoch \(record.bestEpoch))")
                    continue
                }
                if force { try? FileManager.default.removeItem(atPath: folder) }
                let validation = dataset.train.indices.filter { foldOf[$0] == fold }.map { dataset.train[$0] }
                let training = dataset.train.indices.filter { foldOf[$0] != fold }.map { dataset.train[$0] }
                let trainer = FoldTrainer(spec: model, fold: fold, folder: folder, train: training, validation: validation,
                                          bands: dataset.bands, statistics: statistics, fingerprint: key)
                trainer.loaderWorkers = config.data.workers
                trainer.onBadImage = config.data.onBadImage
                let outcome = try trainer.run(observer: progress)

                let network = try bestNetwork(model, fold: fold)
                // Inference keeps no activations for backward: larger batches give the GEMMs wider
                // products (at 64 px, 128 images run 25% faster per image than 32).
                let predictor = Predictor(bands: dataset.bands, statistics: statistics, inputSize: model.inputSize,
                                          batchSize: Predictor.inferenceBatch(training: model.batchSize, inputSize: model.inputSize),
                                          workers: config.data.workers, onBadImage: config.data.onBadImage)
                let names = validation.map(\.name)
                let plain = try predict(predictor, network, validation, tta: .none, what: "\(model.name) fold \(fold) validation")
                try ProbabilityTable(names: names, rows: plain.probabilities).write(to: folder + "/oof-notta.csv")
                var skipped = plain.skipped
                if config.tta != .none {
                    let augmented = try predict(predictor, network, validation, tta: config.tta, what: "\(model.name) fold \(fold) validation, TTA \(config.tta.rawValue)")
                    try ProbabilityTable(names: names, rows: augmented.probabilities).write(to: folder + "/oof.csv")
                } else {
                    try ProbabilityTable(names: names, rows: plain.probabilities).write(to: folder + "/oof.csv")
                }
                let test = try predict(predictor, network, dataset.test, tta: config.tta,
                                       what: "\(model.name) fold \(fold) test\(config.tta == .none ? "" : ", TTA \(config.tta.rawValue)")")
                try ProbabilityTable(names: dataset.test.map(\.name), rows: test.probabilities).write(to: folder + "/test.csv")
                skipped += test.skipped
                for chip in skipped { progress.note("skipped \(chip.name): \(chip.error)") }
                if !config.outputs.checkpoints { try? FileManager.default.removeItem(atPath: trainer.lastPath) }
                try writeJSON(FoldRecord(key: key, bestEpoch: outcome.bestEpoch, stoppedEarly: outcome.stoppedEarly,
                                         history: outcome.history, skipped: skipped.map(\.name)), to: recordPath)
            }
        }
    }

    /// The network of `model` on `fold` with its best epoch's weights.
    func bestNetwork(_ model: ModelSpec, fold: Int) throws -> Layer {
        let network = try FoldTrainer.makeModel(model, bands: dataset.bands.bandCount, observer: nil)
        let path = FoldTrainer.bestPath(in: foldFolder(model, fold))
        do { try Checkpoint.load(into: network, from: path) } catch { throw TrainingError(error.description) }
        return network
    }

    private func predict(_ predictor: Predictor, _ network: Layer, _ chips: [DatasetChip], tta: TestTimeAugmentation,
                         what: String) throws -> (probabilities: [[Float]], skipped: [SkippedChip]) {
        let started = Date()
        return try predictor.predictReportingSkips(network, chips: chips, tta: tta, progress: { done, total in
            self.progress.predictionProgress(what: what, done: done, total: total,
                                             imagesPerSecond: Double(done * tta.symmetries.count) / Date().timeIntervalSince(started))
        })
    }
}
