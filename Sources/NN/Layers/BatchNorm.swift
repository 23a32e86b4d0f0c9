import Tensor

/// Batch normalisation over channels (PyTorch's BatchNorm2d, and BatchNorm1d on [F, N]): batch
/// statistics in training (updating the running ones with `momentum`), running statistics in inference.
public final class BatchNorm: Layer {
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Buffer
    public let runningVariance: Buffer
    public let batchesTracked: Buffer
    public var momentum: Float
    /// Running statistics as the plain mean of every batch since they were last reset (PyTorch's
    /// `momentum=None`): batch n weighs 1/n in place of `momentum`. What recomputing the statistics
    /// of averaged weights uses (`resetRunningStatistics()` first).
    public var cumulativeAverage = false
    public var epsilon: Float
    /// A ReLU right after this layer is fused in (`fuseBatchNormReLU`): this layer applies it, and the
    /// ReLU layer passes values through.
    public internal(set) var appliesReLU = false
    /// The convolution before this layer applies it in inference (`fuseInferenceEpilogues`): values pass
    /// through then (training is unchanged).
    public internal(set) var isFoldedIntoConvolution = false
    /// From a training forward pass to its backward pass: the input and its statistics (with the ReLU
    /// fused, backward recomputes its mask from them: the output is not kept).
    private var cache: (input: Tensor, statistics: BatchNormalization.Statistics)?

    /// Set while a data-parallel job trains with `sync_batch_norm`: the sum over its replicas that
    /// makes every batch norm's training statistics those of the global batch (a task-local, for the
    /// code that runs in it).
    @TaskLocal public static var replicaSum: BatchNormalization.ReplicaSum?

    public init(channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        weight = Parameter(Tensor(shape: [channels], repeating: 1))
        bias = Parameter(Tensor(shape: [channels]))
        runningMean = Buffer(Tensor(shape: [channels]))
        runningVariance = Buffer(Tensor(shape: [channels], repeating: 1))
        batchesTracked = Buffer(Tensor(shape: []), kind: .int64)
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        switch mode {
        case .inference:
            cache = nil
            if isFoldedIntoConvolution && EngineSettings.current.fusedInferenceEpilogues { return x }
            return BatchNormalization.forwardInference(x, gamma: weight.value, beta: bias.value, runningMean: runningMean.value,
                                                       runningVariance: runningVariance.value, epsilon: epsilon, relu: appliesReLU)
        case .training:
            let momentum = cumulativeAverage ? 1 / (batchesTracked.value.scalars[0] + 1) : momentum
            let (y, statistics) = if let sum = Self.replicaSum {
                BatchNormalization.forwardTraining(x, gamma: weight.value, beta: bias.value, runningMean: &runningMean.value,
                                                   runningVariance: &runningVariance.value, momentum: momentum, epsilon: epsilon,
                                                   relu: appliesReLU, replicaSum: sum)
            } else {
                BatchNormalization.forwardTraining(x, gamma: weight.value, beta: bias.value, runningMean: &runningMean.value,
                                                   runningVariance: &runningVariance.value, momentum: momentum, epsilon: epsilon, relu: appliesReLU)
            }
            batchesTracked.value.scalars[0] += 1
            cache = (x, statistics)
            return y
        }
    }

    /// Running mean 0, variance 1, no batch tracked: as a fresh layer (PyTorch's `reset_running_stats`).
    public func resetRunningStatistics() {
        runningMean.value = Tensor(shape: runningMean.value.shape)
        runningVariance.value = Tensor(shape: runningVariance.value.shape, repeating: 1)
        batchesTracked.value = Tensor(shape: batchesTracked.value.shape)
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let cache else { preconditionFailure("BatchNorm.backward without a training forward pass") }
        self.cache = nil
        // γ and β are still the forward pass's: the optimiser steps after the whole backward pass.
        let reluBeta = appliesReLU ? bias.value : nil
        if let sum = Self.replicaSum, cache.statistics.count != nil {
            return BatchNormalization.backward(dy, input: cache.input, gamma: weight.value, statistics: cache.statistics, gammaGradient: &weight.gradient,
                                               betaGradient: &bias.gradient, reluBeta: reluBeta, replicaSum: sum)
        }
        return BatchNormalization.backward(dy, input: cache.input, gamma: weight.value, statistics: cache.statistics,
                                           gammaGradient: &weight.gradient, betaGradient: &bias.gradient, reluBeta: reluBeta)
    }

    public func state(prefix: String) -> [(name: String, entry: StateEntry)] {
        [(prefix + "weight", .parameter(weight)), (prefix + "bias", .parameter(bias)),
         (prefix + "running_mean", .buffer(runningMean)), (prefix + "running_var", .buffer(runningVariance)),
         (prefix + "num_batches_tracked", .buffer(batchesTracked))]
    }
}
