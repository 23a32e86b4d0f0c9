import Foundation
import NN
import PlanetData
import Tensor

extension FoldTrainer {
    /// Seconds one training chip takes through a full step (loading, augmentation, forward, loss,
    /// backward, optimiser), measured on `batches` batches of this fold's first epoch after one
    /// warm-up batch (first-touch allocation, prepared weights). Nothing is written; the fold's own
    /// run starts from scratch afterwards. For `budget_minutes`, at `inputSize` pixels (the model's own
    /// by default; a progressive-resizing stage's for its epochs).
    public func measureSecondsPerTrainingChip(batches: Int = 3, inputSize: Int? = nil) throws -> Double {
        precondition(batches >= 1, "at least one timed batch")
        let model = try Self.makeModel(spec, bands: bands.bandCount, observer: nil)
        let optimizer = makeOptimizer()
        let loader = trainingLoader(inputSize: inputSize ?? spec.inputSize)
        var loop = makeLoop(model: model, optimizer: optimizer, loader: loader, policy: .skipBatch, observer: nil, state: ResumeState())
        let epoch = loader.epoch(0)
        var started = Date(), chips = 0, index = 0
        while index <= batches, let batch = try epoch.next() {
            guard batch.count > 0 else { continue }
            _ = try loop.step(batch, epoch: 0, index: index)
            if index == 0 { started = Date() } else { chips += batch.count }
            index += 1
        }
        guard chips > 0 else { throw TrainingError("\(spec.name): too few training chips to measure a training rate") }
        return Date().timeIntervalSince(started) / Double(chips)
    }
}
