import Cluster
import Foundation
import NN
import PlanetData
import Tensor

/// One call of `FoldTrainer.run` from its resume point: epochs of batches (forward, loss, backward,
/// clipping, optimiser step), a validation pass and checkpoints after each epoch. Progress goes to
/// the observer: each batch, each epoch, each skipped batch.
struct TrainingLoop {
    let trainer: FoldTrainer
    let model: Layer
    let optimizer: Optimizer
    /// The loader at the model's input size (its batches per epoch are every size's).
    let loader: ChipLoader
    /// Loaders by input size, made as `progressive_resizing` reaches them.
    var loaders: [Int: ChipLoader]
    let loss: any Loss
    var rates: LearningRatePlan
    var nonFinite: NonFiniteGuard
    let observer: TrainingObserver?
    var state: ResumeState

    /// `mode: data`: the job's ranks and this model's gradient buckets.
    var parallel: DataParallel? { trainer.dataParallel }
    var buckets: GradientBuckets?

    var spec: ModelSpec { trainer.spec }
    var fold: Int { trainer.fold }

    /// What an epoch's training pass measured.
    struct EpochTraining {
        var lossSum = 0.0
        var seen = 0
        /// The rate of the epoch's last step.
        var learningRate: Float
        var seconds = 0.0
        var loaderWaitSeconds = 0.0
    }

    /// Trains until every epoch is done, early stopping ends the run, or `budget` epochs have run.
    mutating func run(epochs budget: Int) throws {
        var epochsRun = 0
        while state.history.count < spec.epochs && !state.stopped && epochsRun < budget {
            epochsRun += 1
            let epoch = state.history.count
            let started = Date()
            let trained = try trainEpoch(epoch, started: started)
            try endEpoch(epoch, trained: trained, started: started)
        }
    }

    mutating func trainEpoch(_ epoch: Int, started: Date) throws -> EpochTraining {
        reseedDropout(epoch: epoch)
        let size = spec.trainingInputSize(epoch: epoch)
        if loaders[size] == nil {
            // Progressive resizing only grows: an earlier size's loader, and the decoded chips it
            // keeps, go when the next size starts (the model's own size stays).
            loaders = loaders.filter { $0.key == spec.inputSize }
            loaders[size] = trainer.trainingLoader(inputSize: size)
        }
        let batches = loaders[size]!.epoch(epoch)
        var trained = EpochTraining(learningRate: optimizer.learningRate)
        var index = 0
        while let batch = try batches.next() {
            // Every chip of it skipped under on_bad_image: skip (a rank's part goes on: the ranks step together).
            guard batch.count > 0 || parallel != nil else { continue }
            trained.learningRate = rates.rate(step: state.step, epoch: epoch)
            optimizer.learningRate = trained.learningRate
            defer { index += 1 }
            guard let (batchLoss, images) = try parallel.map({ try parallelStep(batch, $0, epoch: epoch, index: index) })
                    ?? step(batch, epoch: epoch, index: index).map({ ($0, batch.count) }) else { continue }
            state.step += 1
            trained.lossSum += Double(batchLoss) * Double(images)
            trained.seen += images
            observer?.batchEnded(model: spec.name, fold: fold, epoch: epoch, batch: index + 1, batches: loader.batchesPerEpoch,
                                 loss: Float(trained.lossSum / Double(max(trained.seen, 1))),
                                 imagesPerSecond: Double(trained.seen) / Date().timeIntervalSince(started))
        }
        trained.seconds = Date().timeIntervalSince(started)
        trained.loaderWaitSeconds = batches.waitSeconds
        if let buckets, let parallel, parallel.cluster.isRoot {
            let (steps, exposed) = buckets.takeEpochTotals()
            observer?.note(String(format: "%@ fold %d epoch %d: gradients summed over %d ranks in %d buckets (%@); %.1f ms a step waited for them, %.1f%% of the epoch",
                                  spec.name, fold, epoch + 1, parallel.cluster.size, buckets.bucketCount,
                                  parallel.overlap ? "overlapping backward" : "after backward",
                                  exposed / Double(max(steps, 1)) * 1000, exposed / trained.seconds * 100))
        }
        return trained
    }

    /// One optimiser step on `batch` (batch `index` of `epoch`, from 0; first mixed under `mixup`): its
    /// loss, or nil when the batch was skipped for a loss or gradient that is not finite.
    mutating func step(_ batch: Batch, epoch: Int, index: Int) throws -> Float? {
        let batch = spec.mixup.map { BatchMixer($0, seed: spec.seed, fold: fold).mix(batch, epoch: epoch) } ?? batch
        let logits = model.forward(batch.input, mode: .training)
        let (value, gradient) = loss.lossAndGradient(logits: logits, targets: batch.targets!)
        var problem = NonFiniteGuard.lossProblem(value, model: model)
        if problem == nil { problem = backward(gradient) }
        return try stepUnless(problem, epoch: epoch, index: index) ? value : nil
    }

    /// The parameters' gradients for `gradient` (clipped if the spec says so); a gradient that is
    /// not finite, as a problem, or nil.
    func backward(_ gradient: Tensor) -> String? {
        model.zeroGradients()
        guard spec.clipGradientNorm == nil else {
            _ = model.backward(gradient)
            return clippedGradientProblem()
        }
        return FiniteGradientWatch.backward(model, gradient) ? nil : NonFiniteGuard.gradientProblem(model)
    }

    /// Clips the gradients if the spec says so; a gradient that is not finite, as a problem, or nil.
    func clippedGradientProblem() -> String? {
        // A finite clipping norm means every gradient is finite.
        if let clip = spec.clipGradientNorm, clipGradients(model.parameters, maxNorm: clip).isFinite { return nil }
        return NonFiniteGuard.gradientProblem(model)
    }

    /// `mode: data`: one step of every rank together on this rank's part of the batch (DataParallel.swift):
    /// the global batch's mean loss and its chips, or nil when every rank skipped the step.
    mutating func parallelStep(_ part: Batch, _ parallel: DataParallel, epoch: Int, index: Int) throws -> (Float, Int)? {
        let cluster = parallel.cluster
        let counts = try cluster.allreduceSum([Double(part.count), part.count == 0 ? 1 : 0], "the step's chips")
        guard counts[1] == 0 else {
            observer?.batchSkipped(model: spec.name, fold: fold, epoch: epoch, batch: index + 1,
                                   message: "skipped: \(Int(counts[1])) rank(s) had no chip of this batch that decoded")
            return nil
        }
        let part = spec.mixup.map { BatchMixer($0, seed: spec.seed, fold: fold).mix(part, epoch: epoch) } ?? part
        let sum = parallel.syncBatchNorm ? parallel.replicaSum : nil
        let logits = BatchNorm.$replicaSum.withValue(sum) { model.forward(part.input, mode: .training) }
        var (value, gradient) = loss.lossAndGradient(logits: logits, targets: part.targets!)
        let agreed = try cluster.allreduceSum([Double(value) * Double(part.count), value.isFinite ? 0 : 1], "the step's loss")
        let total = counts[0], meanLoss = Float(agreed[0] / total)
        var problem = agreed[1] > 0 ? NonFiniteGuard.lossProblem(value.isFinite ? .nan : value, model: model) : nil
        if problem == nil {
            // Each rank's share of the global mean: summed over the ranks, the global batch's gradient.
            let share = Float(Double(part.count) / total)
            gradient.scalars.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= share } }
            model.zeroGradients()
            try buckets!.exchange { _ = BatchNorm.$replicaSum.withValue(sum) { model.backward(gradient) } }
            problem = clippedGradientProblem()
        }
        return try stepUnless(problem, epoch: epoch, index: index) ? (meanLoss, Int(total)) : nil
    }

    /// The optimiser's step, unless the loss or a gradient was not finite: then the batch is skipped
    /// (or the run stopped) as `on_non_finite` says. Whether it stepped.
    mutating func stepUnless(_ problem: String?, epoch: Int, index: Int) throws -> Bool {
        if let problem {
            let message = try nonFinite.skip(problem, epoch: epoch, batch: index)
            model.zeroGradients()
            observer?.batchSkipped(model: spec.name, fold: fold, epoch: epoch, batch: index + 1, message: message)
            return false
        }
        optimizer.step(model.namedParameters)
        return true
    }

    /// Validation, the epoch's record, checkpoints. Nothing that is not finite is written: weights,
    /// or a validation loss (logits overflowing while the weights stay finite), which ends the run
    /// under either policy (skip_batch skips training batches only).
    mutating func endEpoch(_ epoch: Int, trained: EpochTraining, started: Date) throws {
        let place = "\(spec.name) fold \(fold)", skipped = nonFinite.skipped
        // Every rank validates and keeps rank 0's running statistics (its own without sync_batch_norm).
        try parallel?.broadcastState(of: model, buffersOnly: true)
        if let bad = NonFiniteGuard.firstNonFiniteValue(model) {
            throw TrainingError("\(place): \(bad) is not finite after epoch \(epoch + 1) (\(skipped) batches skipped); not writing a checkpoint")
        }
        var validation: (loss: Double, meanF2: Double, threshold: Float) = (.nan, .nan, .nan)  // a refit holds no chip out
        if !trainer.validation.isEmpty {
            do { validation = try trainer.validate(model, inputSize: spec.trainingInputSize(epoch: epoch)) } catch let error as PredictionError {
                throw TrainingError("\(place), epoch \(epoch + 1) (\(skipped) batches skipped): \(error); not writing a checkpoint")
            }
        }
        guard trainer.validation.isEmpty || (validation.loss.isFinite && validation.meanF2.isFinite) else {
            throw TrainingError("\(place): the validation loss became \(validation.loss.isNaN ? "nan" : "\(validation.loss)") at epoch \(epoch + 1) "
                                + "(\(skipped) batches skipped); lower the learning rate or clip gradients; not writing a checkpoint")
        }
        rates.epochEnded(validationLoss: validation.loss)
        let record = EpochRecord(epoch: epoch + 1, trainLoss: trained.lossSum / Double(max(trained.seen, 1)), validationLoss: validation.loss,
                                 validationMeanF2: validation.meanF2, validationThreshold: validation.threshold,
                                 learningRate: trained.learningRate, seconds: Date().timeIntervalSince(started),
                                 loaderWaitSeconds: trained.loaderWaitSeconds, imagesPerSecond: Double(trained.seen) / trained.seconds)
        state.history.append(record)
        try trainer.checkpoint(after: record, state: &state, model: model, optimizer: optimizer)
        observer?.epochEnded(model: spec.name, fold: fold, record: record, epochs: spec.epochs)
    }

    /// Dropout masks seeded by (seed, fold, epoch, layer), so a resumed run draws what an
    /// uninterrupted one would.
    func reseedDropout(epoch: Int) {
        var index: UInt64 = 0
        model.forEachLayer { layer in
            if let dropout = layer as? Dropout {
                dropout.reseed(ChipLoader.mix(spec.seed, UInt64(fold), UInt64(epoch), index))
                index += 1
            }
        }
    }
}
