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
        var mean = [Float](repeating: 0, count: channels), inverseStd = [Float](repeating: 0, count: channels)
        var variances = [Float](repeating: 0, count: channels)
        // Every channel's run is written below.
        let y = Tensor(shape: x.shape) { yp in
            x.scalars.withUnsafeBufferPointer { xp in
                mean.withUnsafeMutableBufferPointer { mp in
                    inverseStd.withUnsafeMutableBufferPointer { ip in
                        variances.withUnsafeMutableBufferPointer { vp in
                            Parallel.forEachChunk(channels, costPerItem: 3 * run) { range in
                                for c in range {
                                    let row = xp.baseAddress! + c * run
                                    // Two passes (one pass of Σx² loses digits on large runs), each summed
                                    // in blocks (`blockSums`).
                                    let mu = blockSums(run, { (lanes(row, $0), .zero) }, { (row[$0], 0) }).0 / Double(run)
                                    let m = Float(mu)
                                    let variance = blockSums(run, { let d = lanes(row, $0) - m; return (d * d, .zero) },
                                                             { let d = row[$0] - m; return (d * d, 0) }).0 / Double(run)
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
        return Tensor(shape: x.shape) { yp in
            x.scalars.withUnsafeBufferPointer { xp in
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
    }

    /// Returns dx; accumulates dγ and dβ.
    public static func backward(_ dy: Tensor, input x: Tensor, gamma: Tensor, statistics s: Statistics,
                                gammaGradient: inout Tensor, betaGradient: inout Tensor) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        var dGamma = [Float](repeating: 0, count: channels), dBeta = [Float](repeating: 0, count: channels)
        // Every channel's run is written below.
        let dx = Tensor(shape: x.shape) { dxp in
            dy.scalars.withUnsafeBufferPointer { dyp in
                x.scalars.withUnsafeBufferPointer { xp in
                    dGamma.withUnsafeMutableBufferPointer { gp in
                        dBeta.withUnsafeMutableBufferPointer { bp in
                            Parallel.forEachChunk(channels, costPerItem: 3 * run) { range in
                                for c in range {
                                    let g = dyp.baseAddress! + c * run, row = xp.baseAddress! + c * run
                                    let mu = s.mean[c], inv = s.inverseStd[c]
                                    let (sumDy, sumDyXhat) = blockSums(run, { i in
                                        let d = lanes(g, i)
                                        return (d, d * ((lanes(row, i) - mu) * inv))
                                    }, { i in (g[i], g[i] * ((row[i] - mu) * inv)) })
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

    @inline(__always)
    static func lanes(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Two sums over i < count of what `eight(i)` gives for i…i+7 (and `one(i)` for the last few):
    /// eight Float lanes add up blocks of 256 values, and the blocks' totals add up in Double. Lanes
    /// make the additions independent (one running Double sum waits on each add), and the blocks keep
    /// Float's error to that of 32 terms, so long runs lose no more digits than a Double sum.
    @inline(__always)
    static func blockSums(_ count: Int, _ eight: (Int) -> (SIMD8<Float>, SIMD8<Float>),
                          _ one: (Int) -> (Float, Float)) -> (Double, Double) {
        var totals = (0.0, 0.0)
        var i = 0
        while i + 8 <= count {
            let end = min(i + 256, count - (count - i) % 8)
            var a = SIMD8<Float>(), b = SIMD8<Float>()
            while i < end {
                let (x, y) = eight(i)
                a += x
                b += y
                i += 8
            }
            totals.0 += Double(a.sum())
            totals.1 += Double(b.sum())
        }
        while i < count {
            let (x, y) = one(i)
            totals.0 += Double(x)
            totals.1 += Double(y)
            i += 1
        }
        return totals
    }
}
