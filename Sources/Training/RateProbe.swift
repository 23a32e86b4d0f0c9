import Foundation
import NN
import PlanetData
import Tensor

extension FoldTrainer {
    /// Seconds one training chip takes through a full step (loading, augmentation, forward, loss,
    /// backward, optimiser), measured on `batches` batches of this fold's first epoch after `warmUp`
    /// batches (first-touch allocation, prepared weights, the loader filling its queue: with one warm-up
    /// batch and three timed, ResNet-18 at 128 px measured 16-22 ms a chip where its epochs step at
    /// 14.4; with two and ten, 14.8). Nothing is written; the fold's own run starts from scratch
    /// afterwards. For `budget_minutes`, at `inputSize` pixels (the model's own by default; a
    /// progressive-resizing stage's for its epochs).
    public func measureSecondsPerTrainingChip(batches: Int = 10, warmUp: Int = 2, inputSize: Int? = nil) throws -> Double {
        precondition(batches >= 1 && warmUp >= 1, "at least one warm-up and one timed batch")
        let model = try Self.makeModel(spec, bands: bands.bandCount, observer: nil)
        let optimizer = makeOptimizer()
        let loader = trainingLoader(inputSize: inputSize ?? spec.inputSize)
        var loop = makeLoop(model: model, optimizer: optimizer, loader: loader, policy: .skipBatch, observer: nil, state: ResumeState())
        var started = Date(), chips = 0, index = 0
        // An epoch of a small training set can hold fewer batches than the probe steps: it goes on
        // into the next epoch, and stops at one that yields none.
        for epochIndex in 0..<(warmUp + batches) where index < warmUp + batches {
            let epoch = loader.epoch(epochIndex)
            let before = index
            while index < warmUp + batches, let batch = try epoch.next() {
                guard batch.count > 0 else { continue }
                _ = try loop.step(batch, epoch: epochIndex, index: index)
                if index < warmUp { started = Date() } else { chips += batch.count }
                index += 1
            }
            if index == before { break }
        }
        guard chips > 0 else { throw TrainingError("\(spec.name): too few training chips to measure a training rate") }
        return Date().timeIntervalSince(started) / Double(chips)
    }
}
