/// Batch normalisation over [C, N, H, W] or [C, N]: per channel, statistics over everything else,
/// which in the feature-major layout is one contiguous run of M = N·H·W values.
///
/// Training:  μ, σ² (biased) over the run; x̂ = (x − μ)/√(σ² + ε); y = γ·x̂ + β;
///            running ← (1 − momentum)·running + momentum·batch (running variance unbiased, as PyTorch).
/// Inference: the running statistics replace μ and σ².
/// Backward:  dγ += Σ dy·x̂;  dβ += Σ dy;  dx = γ/√(σ²+ε) · (dy − mean(dy) − x̂·mean(dy·x̂)).
public enum BatchNormalization {
    /// What backward needs from a training forward pass: per-channel mean and 1/√(σ²+ε).
    public struct Statistics: Sendable {
        public var mean: [Float]
        public var inverseStd: [Float]
    }

    public static func forwardTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: inout Tensor,
                                       runningVariance: inout Tensor, momentum: Float, epsilon: Float)
        -> (output: Tensor, statistics: Statistics) {
        let channels = x.shape[0], run = x.count / channels
        precondition(gamma.count == channels && beta.count == channels)
        var y = Tensor(shape: x.shape)
        var mean = [Float](repeating: 0, count: channels), inverseStd = [Float](repeating: 0, count: channels)
        var variances = [Float](repeating: 0, count: channels)
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                mean.withUnsafeMutableBufferPointer { mp in
                    inverseStd.withUnsafeMutableBufferPointer { ip in
                        variances.withUnsafeMutableBufferPointer { vp in
                            Parallel.forEachChunk(channels, costPerItem: 3 * run) { range in
                                for c in range {
                                    let row = xp.baseAddress! + c * run
                                    // Two passes in Double: one pass of Σx² loses digits on large runs.
                                    var sum = 0.0
                                    for i in 0..<run { sum += Double(row[i]) }
                                    let mu = sum / Double(run)
                                    var squares = 0.0
                                    for i in 0..<run { let d = Double(row[i]) - mu; squares += d * d }
                                    let variance = squares / Double(run)
                                    let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
                                    mp[c] = Float(mu)
                                    ip[c] = inv
                                    vp[c] = Float(variance)
                                    let scale = gamma.scalars[c] * inv, shift = beta.scalars[c] - Float(mu) * scale
                                    let out = yp.baseAddress! + c * run
                                    for i in 0..<run { out[i] = row[i] * scale + shift }
                                }
                            }
                        }
                    }
                }
            }
        }
        let unbias = run > 1 ? Float(run) / Float(run - 1) : 1
        for c in 0..<channels {
            runningMean.scalars[c] = (1 - momentum) * runningMean.scalars[c] + momentum * mean[c]
            runningVariance.scalars[c] = (1 - momentum) * runningVariance.scalars[c] + momentum * variances[c] * unbias
        }
        return (y, Statistics(mean: mean, inverseStd: inverseStd))
    }

    public static func forwardInference(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor,
                                        runningVariance: Tensor, epsilon: Float) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        var y = Tensor(shape: x.shape)
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                Parallel.forEachChunk(channels, costPerItem: run) { range in
                    for c in range {
                        let scale = gamma.scalars[c] / (runningVariance.scalars[c] + epsilon).squareRoot()
                        let shift = beta.scalars[c] - runningMean.scalars[c] * scale
                        let row = xp.baseAddress! + c * run, out = yp.baseAddress! + c * run
                        for i in 0..<run { out[i] = row[i] * scale + shift }
                    }
                }
            }
        }
        return y
    }

    /// Returns dx; accumulates dγ and dβ.
    public static func backward(_ dy: Tensor, input x: Tensor, gamma: Tensor, statistics s: Statistics,
                                gammaGradient: inout Tensor, betaGradient: inout Tensor) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        var dx = Tensor(shape: x.shape)
        var dGamma = [Float](repeating: 0, count: channels), dBeta = [Float](repeating: 0, count: channels)
        dy.scalars.withUnsafeBufferPointer { dyp in
            x.scalars.withUnsafeBufferPointer { xp in
                dx.scalars.withUnsafeMutableBufferPointer { dxp in
                    dGamma.withUnsafeMutableBufferPointer { gp in
                        dBeta.withUnsafeMutableBufferPointer { bp in
                            Parallel.forEachChunk(channels, costPerItem: 3 * run) { range in
                                for c in range {
                                    let g = dyp.baseAddress! + c * run, row = xp.baseAddress! + c * run
                                    let mu = s.mean[c], inv = s.inverseStd[c]
                                    var sumDy = 0.0, sumDyXhat = 0.0
                                    for i in 0..<run {
                                        sumDy += Double(g[i])
                                        sumDyXhat += Double(g[i]) * Double((row[i] - mu) * inv)
                                    }
                                    gp[c] = Float(sumDyXhat)
                                    bp[c] = Float(sumDy)
                                    let meanDy = Float(sumDy / Double(run)), meanDyXhat = Float(sumDyXhat / Double(run))
                                    let scale = gamma.scalars[c] * inv
                                    let out = dxp.baseAddress! + c * run
                                    for i in 0..<run {
                                        let xhat = (row[i] - mu) * inv
                                        out[i] = scale * (g[i] - meanDy - xhat * meanDyXhat)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for c in 0..<channels {
            gammaGradient.scalars[c] += dGamma[c]
            betaGradient.scalars[c] += dBeta[c]
        }
        return dx
    }
}
