/// Synchronised batch normalisation: the statistics of the whole global batch of a data-parallel job,
/// whose replicas (the ranks) each hold a part of it (PyTorch's SyncBatchNorm). `sum` adds a list of
/// numbers element-wise over the replicas, in place (an allreduce); each replica calls it at the same
/// points, in the same order.
///
/// Forward:  Σx per channel and the count, summed → μ; Σ(x − μ)², summed → σ² (two passes, as in
///           one process); then each replica normalises its part. Running statistics as one process
///           over the global batch would update them.
/// Backward: Σdy and Σdy·x̂ per channel, summed → the global means in dx = γ/√(σ²+ε)·(dy − mean(dy) −
///           x̂·mean(dy·x̂)); dγ and dβ keep the local sums (the gradient exchange sums them with the
///           other parameters').
extension BatchNormalization {
    /// The element-wise sum over the replicas, in place. (A class rather than a bare closure: it is
    /// held in a task-local, where an optional function value crashed the optimised build.)
    public final class ReplicaSum: Sendable {
        let body: @Sendable (inout [Double]) -> Void

        public init(_ body: @escaping @Sendable (inout [Double]) -> Void) { self.body = body }

        public func callAsFunction(_ values: inout [Double]) { body(&values) }
    }

    public static func forwardTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: inout Tensor, runningVariance: inout Tensor,
                                       momentum: Float, epsilon: Float, relu: Bool = false, replicaSum sum: ReplicaSum)
        -> (output: Tensor, statistics: Statistics) {
        let channels = x.shape[0], run = x.count / channels
        precondition(gamma.count == channels && beta.count == channels)
        var sums = [Double](repeating: 0, count: channels + 1)
        channelSums(x, into: &sums) { row, _ in blockSums(run, { (lanes(row, $0), .zero) }, { (row[$0], 0) }).0 }
        sums[channels] = Double(run)
        sum(&sums)
        let total = sums[channels]
        let mean = (0..<channels).map { total > 0 ? sums[$0] / total : 0 }
        var squares = [Double](repeating: 0, count: channels)
        channelSums(x, into: &squares) { row, c in
            let m = Float(mean[c])
            return blockSums(run, { let d = lanes(row, $0) - m; return (d * d, .zero) }, { let d = row[$0] - m; return (d * d, 0) }).0
        }
        sum(&squares)
        let variances = squares.map { total > 0 ? $0 / total : 0 }
        let inverseStd = variances.map { Float(1 / ($0 + Double(epsilon)).squareRoot()) }
        let y = Tensor(shape: x.shape) { yp in
            x.scalars.withUnsafeBufferPointer { xp in
                Parallel.forEachChunk(channels, costPerItem: run) { range in
                    for c in range {
                        let (scale, shift) = affine(gamma: gamma.scalars[c], beta: beta.scalars[c], mean: Float(mean[c]), inverseStd: inverseStd[c])
                        normalize(xp.baseAddress! + c * run, scale: scale, shift: shift, relu: relu, count: run, into: yp.baseAddress! + c * run)
                    }
                }
            }
        }
        let unbias = total > 1 ? Float(total) / Float(total - 1) : 1
        for c in 0..<channels {
            runningMean.scalars[c] = (1 - momentum) * runningMean.scalars[c] + momentum * Float(mean[c])
            runningVariance.scalars[c] = (1 - momentum) * runningVariance.scalars[c] + momentum * Float(variances[c]) * unbias
        }
        return (y, Statistics(mean: mean.map { Float($0) }, inverseStd: inverseStd, count: total))
    }

    public static func backward(_ dy: Tensor, input x: Tensor, gamma: Tensor, statistics s: Statistics, gammaGradient: inout Tensor,
                                betaGradient: inout Tensor, reluBeta: Tensor? = nil, replicaSum sum: ReplicaSum) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        precondition(reluBeta == nil || reluBeta!.count == channels, "batch norm β \(reluBeta!.shape) for \(channels) channels")
        // Σdy for channel c at c, Σdy·x̂ at channels + c.
        var sums = [Double](repeating: 0, count: 2 * channels)
        dy.scalars.withUnsafeBufferPointer { dyp in
            x.scalars.withUnsafeBufferPointer { xp in
                sums.withUnsafeMutableBufferPointer { sp in
                    Parallel.forEachChunk(channels, costPerItem: 2 * run) { range in
                        for c in range {
                            let g = dyp.baseAddress! + c * run, row = xp.baseAddress! + c * run
                            let (mu, inv) = (s.mean[c], s.inverseStd[c])
                            let local = if let reluBeta {
                                gradientSums(ReLUMasked(dy: g, input: row, gamma: gamma.scalars[c], beta: reluBeta.scalars[c], mean: mu, inverseStd: inv),
                                             input: row, count: run, mean: mu, inverseStd: inv)
                            } else {
                                gradientSums(Unmasked(dy: g), input: row, count: run, mean: mu, inverseStd: inv)
                            }
                            sp[c] = local.dy
                            sp[channels + c] = local.dyXhat
                        }
                    }
                }
            }
        }
        for c in 0..<channels {
            gammaGradient.scalars[c] += Float(sums[channels + c])
            betaGradient.scalars[c] += Float(sums[c])
        }
        sum(&sums)
        let total = s.count ?? Double(run)
        let dx = Tensor(shape: x.shape) { dxp in
            dy.scalars.withUnsafeBufferPointer { dyp in
                x.scalars.withUnsafeBufferPointer { xp in
                    Parallel.forEachChunk(channels, costPerItem: run) { range in
                        for c in range {
                            let g = dyp.baseAddress! + c * run, row = xp.baseAddress! + c * run, out = dxp.baseAddress! + c * run
                            let meanDy = Float(sums[c] / total), meanDyXhat = Float(sums[channels + c] / total)
                            let (mu, inv) = (s.mean[c], s.inverseStd[c]), scale = gamma.scalars[c] * inv
                            if let reluBeta {
                                inputGradient(ReLUMasked(dy: g, input: row, gamma: gamma.scalars[c], beta: reluBeta.scalars[c], mean: mu, inverseStd: inv),
                                              input: row, count: run, mean: mu, inverseStd: inv, scale: scale, meanDy: meanDy,
                                              meanDyXhat: meanDyXhat, into: out)
                            } else {
                                inputGradient(Unmasked(dy: g), input: row, count: run, mean: mu, inverseStd: inv, scale: scale,
                                              meanDy: meanDy, meanDyXhat: meanDyXhat, into: out)
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// `value(row, c)` of each channel's run, into `sums[c]`, the channels split over the workers.
    private static func channelSums(_ x: Tensor, into sums: inout [Double], _ value: (UnsafePointer<Float>, Int) -> Double) {
        let channels = x.shape[0], run = x.count / channels
        x.scalars.withUnsafeBufferPointer { xp in
            sums.withUnsafeMutableBufferPointer { sp in
                Parallel.forEachChunk(channels, costPerItem: run) { range in
                    for c in range { sp[c] = value(xp.baseAddress! + c * run, c) }
                }
            }
        }
    }
}
