/// Batch normalisation over [C, N, H, W] or [C, N]: per channel, statistics over everything else,
/// which in the feature-major layout is one contiguous run of M = N·H·W values.
///
/// Training:  μ, σ² (biased) over the run; x̂ = (x − μ)/√(σ² + ε); y = γ·x̂ + β;
///            running ← (1 − momentum)·running + momentum·batch (running variance unbiased, as PyTorch).
/// Inference: the running statistics replace μ and σ².
/// Backward:  dγ += Σ dy·x̂;  dβ += Σ dy;  dx = γ/√(σ²+ε) · (dy − mean(dy) − x̂·mean(dy·x̂)).
/// With `relu`, a ReLU after the normalisation is fused in: the forward pass writes max(y, 0) in the same
/// pass, and backward zeroes dy where y was not positive before the above, so the activation costs no
/// pass of its own over memory. Backward recomputes y from the input it reads anyway (γ, β and the
/// statistics given, by the forward pass's own arithmetic, `affine`, so the very same mask): the output
/// need not be kept for it, and is freed as soon as the next layer is done with it.
public enum BatchNormalization {
    /// What backward needs from a training forward pass: per-channel mean and 1/√(σ²+ε).
    public struct Statistics: Sendable {
        public var mean: [Float]
        public var inverseStd: [Float]
        /// Values per channel the statistics are over, when that is more than the input's (synchronised
        /// over the replicas of a data-parallel job: BatchNormalization+Replicas.swift).
        public var count: Double? = nil
    }

    public static func forwardTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: inout Tensor,
                                       runningVariance: inout Tensor, momentum: Float, epsilon: Float, relu: Bool = false)
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
                                    let (scale, shift) = affine(gamma: gamma.scalars[c], beta: beta.scalars[c], mean: Float(mu), inverseStd: inv)
                                    normalize(row, scale: scale, shift: shift, relu: relu, count: run, into: yp.baseAddress! + c * run)
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

    /// Channel c's y = x·scale + shift in inference: scale = γ/√(σ² + ε), shift = β − μ·scale (also what a
    /// convolution's epilogue folds in, `ConvolutionEpilogue`).
    @inline(__always)
    public static func inferenceScaleShift(gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVariance: Tensor,
                                           epsilon: Float, channel c: Int) -> (scale: Float, shift: Float) {
        let scale = gamma.scalars[c] / (runningVariance.scalars[c] + epsilon).squareRoot()
        return (scale, beta.scalars[c] - runningMean.scalars[c] * scale)
    }

    public static func forwardInference(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor,
                                        runningVariance: Tensor, epsilon: Float, relu: Bool = false) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        return Tensor(shape: x.shape) { yp in
            x.scalars.withUnsafeBufferPointer { xp in
                Parallel.forEachChunk(channels, costPerItem: run) { range in
                    for c in range {
                        let (scale, shift) = inferenceScaleShift(gamma: gamma, beta: beta, runningMean: runningMean,
                                                                 runningVariance: runningVariance, epsilon: epsilon, channel: c)
                        normalize(xp.baseAddress! + c * run, scale: scale, shift: shift, relu: relu, count: run,
                                  into: yp.baseAddress! + c * run)
                    }
                }
            }
        }
    }

    /// Returns dx; accumulates dγ and dβ. `reluBeta`: the forward pass's β, when it had the ReLU fused
    /// (the mask is recomputed from it, with γ and the statistics, as the forward pass computed y).
    public static func backward(_ dy: Tensor, input x: Tensor, gamma: Tensor, statistics s: Statistics,
                                gammaGradient: inout Tensor, betaGradient: inout Tensor, reluBeta: Tensor? = nil) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        precondition(reluBeta == nil || reluBeta!.count == channels, "batch norm β \(reluBeta!.shape) for \(channels) channels")
        var dGamma = [Float](repeating: 0, count: channels), dBeta = [Float](repeating: 0, count: channels)
        // Every channel's run is written below.
        let dx = Tensor(shape: x.shape) { dxp in
            dy.scalars.withUnsafeBufferPointer { dyp in
                x.scalars.withUnsafeBufferPointer { xp in
                    dGamma.withUnsafeMutableBufferPointer { gp in
                        dBeta.withUnsafeMutableBufferPointer { bp in
                            Parallel.forEachChunk(channels, costPerItem: 3 * run) { range in
                                for c in range {
                                    let g = dyp.baseAddress! + c * run, row = xp.baseAddress! + c * run, out = dxp.baseAddress! + c * run
                                    let (mu, inv, gammaC) = (s.mean[c], s.inverseStd[c], gamma.scalars[c])
                                    let sums = if let reluBeta {
                                        backwardChannel(ReLUMasked(dy: g, input: row, gamma: gammaC, beta: reluBeta.scalars[c], mean: mu, inverseStd: inv),
                                                        input: row, count: run, mean: mu, inverseStd: inv, gamma: gammaC, into: out)
                                    } else {
                                        backwardChannel(Unmasked(dy: g), input: row, count: run, mean: mu, inverseStd: inv, gamma: gammaC, into: out)
                                    }
                                    gp[c] = Float(sums.dyXhat)
                                    bp[c] = Float(sums.dy)
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

    /// One channel's run: out = γ/√(σ²+ε) · (dy − mean(dy) − x̂·mean(dy·x̂)); returns Σ dy and Σ dy·x̂.
    @inline(__always)
    private static func backwardChannel<Gradient: IncomingGradient>(
        _ g: Gradient, input row: UnsafePointer<Float>, count: Int, mean mu: Float, inverseStd inv: Float, gamma: Float,
        into out: UnsafeMutablePointer<Float>
    ) -> (dy: Double, dyXhat: Double) {
        let sums = gradientSums(g, input: row, count: count, mean: mu, inverseStd: inv)
        inputGradient(g, input: row, count: count, mean: mu, inverseStd: inv, scale: gamma * inv,
                      meanDy: Float(sums.dy / Double(count)), meanDyXhat: Float(sums.dyXhat / Double(count)), into: out)
        return sums
    }

    /// Σ dy and Σ dy·x̂ along one channel's run.
    @inline(__always)
    static func gradientSums<Gradient: IncomingGradient>(_ g: Gradient, input row: UnsafePointer<Float>, count: Int, mean mu: Float,
                                                         inverseStd inv: Float) -> (dy: Double, dyXhat: Double) {
        let sums = blockSums(count, { i in
            let d = g.lanes(i)
            return (d, d * ((lanes(row, i) - mu) * inv))
        }, { i in
            let d = g.at(i)
            return (d, d * ((row[i] - mu) * inv))
        })
        return (sums.0, sums.1)
    }

    /// out = scale · (dy − mean(dy) − x̂·mean(dy·x̂)) along one channel's run, the means given.
    @inline(__always)
    static func inputGradient<Gradient: IncomingGradient>(_ g: Gradient, input row: UnsafePointer<Float>, count: Int, mean mu: Float,
                                                          inverseStd inv: Float, scale: Float, meanDy: Float, meanDyXhat: Float,
                                                          into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i + 8 <= count {
            let xhat = (lanes(row, i) - mu) * inv
            UnsafeMutableRawPointer(out + i).storeBytes(of: scale * (g.lanes(i) - meanDy - xhat * meanDyXhat), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            let xhat = (row[i] - mu) * inv
            out[i] = scale * (g.at(i) - meanDy - xhat * meanDyXhat)
            i += 1
        }
    }

    /// y = x·scale + shift for one channel: scale = γ/√(σ²+ε), shift = β − μ·scale. The forward pass and
    /// the fused ReLU's mask in backward both compute y through this, so they agree to the bit.
    @inline(__always)
    static func affine(gamma: Float, beta: Float, mean: Float, inverseStd: Float) -> (scale: Float, shift: Float) {
        let scale = gamma * inverseStd
        return (scale, beta - mean * scale)
    }

    /// out[i] = x[i]·scale + shift, or its positive part with `relu`.
    @inline(__always)
    static func normalize(_ x: UnsafePointer<Float>, scale: Float, shift: Float, relu: Bool, count: Int,
                                  into out: UnsafeMutablePointer<Float>) {
        if relu {
            for i in 0..<count { out[i] = max(x[i] * scale + shift, 0) }
        } else {
            for i in 0..<count { out[i] = x[i] * scale + shift }
        }
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

/// The gradient arriving at a batch norm's output, along one channel's run.
protocol IncomingGradient {
    func at(_ i: Int) -> Float
    func lanes(_ i: Int) -> SIMD8<Float>
}

struct Unmasked: IncomingGradient {
    let dy: UnsafePointer<Float>
    @inline(__always) func at(_ i: Int) -> Float { dy[i] }
    @inline(__always) func lanes(_ i: Int) -> SIMD8<Float> { BatchNormalization.lanes(dy, i) }
}

/// Through a fused ReLU: zero where its output was not positive, that output recomputed from the
/// input as the forward pass computed it (`BatchNormalization.affine`, then `normalize`'s x·scale + shift).
struct ReLUMasked: IncomingGradient {
    let dy: UnsafePointer<Float>, input: UnsafePointer<Float>
    let scale: Float, shift: Float

    init(dy: UnsafePointer<Float>, input: UnsafePointer<Float>, gamma: Float, beta: Float, mean: Float, inverseStd: Float) {
        self.dy = dy
        self.input = input
        (scale, shift) = BatchNormalization.affine(gamma: gamma, beta: beta, mean: mean, inverseStd: inverseStd)
    }

    @inline(__always) func at(_ i: Int) -> Float {
        let d = dy[i]
        return input[i] * scale + shift > 0 ? d : 0
    }
    @inline(__always) func lanes(_ i: Int) -> SIMD8<Float> {
        let y = BatchNormalization.lanes(input, i) * scale + shift
        return BatchNormalization.lanes(dy, i).replacing(with: 0, where: y .<= 0)
    }
}
