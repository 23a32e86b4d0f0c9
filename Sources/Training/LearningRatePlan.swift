import NN

/// The learning rate of each step under a spec's `schedule`: a function of the step and epoch, except
/// `plateau`, which follows the validation losses (replayed from the history when a fold resumes).
struct LearningRatePlan {
    let spec: ModelSpec
    let stepsPerEpoch: Int
    private var plateau: ReduceOnPlateau?

    init(spec: ModelSpec, stepsPerEpoch: Int, history: [EpochRecord]) {
        self.spec = spec
        self.stepsPerEpoch = stepsPerEpoch
        if case .plateau(let factor, let patience) = spec.schedule {
            plateau = ReduceOnPlateau(learningRate: spec.optimizer.learningRate, factor: factor, patience: patience)
        }
        for record in history { epochEnded(validationLoss: record.validationLoss) }
    }

    /// The rate of optimiser step `step` (counted over the whole run), in epoch `epoch`.
    func rate(step: Int, epoch: Int) -> Float {
        let base = spec.optimizer.learningRate, total = max(spec.epochs * stepsPerEpoch, 1)
        switch spec.schedule {
        case .constant: return base
        case .step(let every, let gamma): return LearningRateSchedule.step(stepSize: every, gamma: gamma).learningRate(base: base, at: epoch)
        case .cosine(let warmupEpochs):
            return LearningRateSchedule.cosine(warmupSteps: warmupEpochs * stepsPerEpoch, totalSteps: total, minimum: 0,
                                               warmupStartFactor: 0.1).learningRate(base: base, at: step)
        case .oneCycle: return LearningRateSchedule.oneCycle(totalSteps: total).learningRate(base: base, at: min(step, total - 1))
        case .plateau: return plateau?.learningRate ?? base
        }
    }

    /// An epoch's validation loss, for `plateau`.
    mutating func epochEnded(validationLoss: Double) {
        _ = plateau?.record(metric: Float(validationLoss))
    }
}
