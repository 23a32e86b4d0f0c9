/// What an inference convolution applies to its output as it writes it, in place of the layers after
/// it: y = scale[o] · (W ∗ x)[o] + shift[o], plus a residual block's shortcut, then the ReLU:
/// the batch norm after the convolution folded in (scale = γ/√(σ² + ε), shift = β − μ·scale, with the
/// convolution's bias folded into the shift), the ReLU after that, and in a residual block's last
/// convolution the sum with the shortcut before the block's ReLU. Winograd applies it to each tile
/// group's planes right after its output transform wrote them (in cache, no pass over memory); the
/// other paths in one pass, as the batch norm's own was.
public struct ConvolutionEpilogue: Sendable {
    public var scale: [Float]
    public var shift: [Float]
    /// Added before the ReLU; the shape of the convolution's output.
    public var residual: Tensor?
    public var relu: Bool
    /// The max pool after it all (a ResNet's stem): the convolution's output is this pool's output.
    public var pooling: PoolingGeometry?

    public init(scale: [Float], shift: [Float], residual: Tensor? = nil, relu: Bool, pooling: PoolingGeometry? = nil) {
        precondition(scale.count == shift.count, "epilogue scale and shift for \(scale.count) and \(shift.count) channels")
        self.scale = scale
        self.shift = shift
        self.residual = residual
        self.relu = relu
        self.pooling = pooling
    }

    /// A batch norm in inference (running statistics) after a convolution with `bias`.
    public init(batchNorm gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVariance: Tensor, epsilon: Float,
                convolutionBias bias: Tensor?, residual: Tensor? = nil, relu: Bool, pooling: PoolingGeometry? = nil) {
        let channels = gamma.count
        var scale = [Float](repeating: 0, count: channels), shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            (scale[c], shift[c]) = BatchNormalization.inferenceScaleShift(gamma: gamma, beta: beta, runningMean: runningMean,
                                                                          runningVariance: runningVariance, epsilon: epsilon, channel: c)
            if let bias { shift[c] += bias.scalars[c] * scale[c] }
        }
        self.init(scale: scale, shift: shift, residual: residual, relu: relu, pooling: pooling)
    }

    /// Checks it fits an output of `shape` ([Co, N, Ho, Wo]).
    func check(_ shape: [Int]) {
        precondition(scale.count == shape[0], "epilogue for \(scale.count) channels on an output of \(shape)")
        precondition(residual.map { $0.shape == shape } ?? true, "residual \(residual!.shape) for an output of \(shape)")
    }

    /// The pass an output transform applies to output channel `o`, whose planes start `offset` floats
    /// into the output (the residual's at the same offset).
    func pass(channel o: Int, offset: Int, residual base: UnsafePointer<Float>?) -> OutputPass {
        OutputPass(scale: scale[o], shift: shift[o], relu: relu, residual: base.map { $0 + offset })
    }

    /// Applies it to a written output y ([Co, N·Ho·Wo]), one pass, split by channel.
    func apply(to y: UnsafeMutableBufferPointer<Float>, channels: Int) {
        let run = y.count / channels
        Self.withResidual(of: self) { residual in
            Parallel.forEachChunk(channels, costPerItem: run) { range in
                for o in range {
                    pass(channel: o, offset: o * run, residual: residual).apply(to: y.baseAddress! + o * run, count: run)
                }
            }
        }
    }

    /// `body` with the residual's scalars (nil without an epilogue or a residual).
    static func withResidual<R>(of epilogue: ConvolutionEpilogue?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let residual = epilogue?.residual else { return body(nil) }
        return residual.scalars.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// What an output pass does to each value v it writes: max(scale·v + shift + residual, 0) (the ReLU and
/// the residual when set). Plain, it is v + bias: scale 1 and the same bits as the sum alone.
struct OutputPass {
    var scale: Float = 1
    var shift: Float = 0
    var relu = false
    /// This channel's residual planes, laid out as the output's.
    var residual: UnsafePointer<Float>?

    static func bias(_ value: Float) -> OutputPass { OutputPass(shift: value) }

    /// Scale 1, no ReLU, no residual: an output transform's own `+ bias` is the whole pass.
    var isPlainBias: Bool { scale == 1 && !relu && residual == nil }

    /// In place over `count` values already written at `y` (the same offsets in the residual): one
    /// plain loop per case, which the compiler vectorises.
    func apply(to y: UnsafeMutablePointer<Float>, count: Int) {
        let (s, b) = (scale, shift)
        switch (residual, relu) {
        case (nil, false): for i in 0..<count { y[i] = y[i] * s + b }
        case (nil, true): for i in 0..<count { y[i] = max(y[i] * s + b, 0) }
        case (let r?, false): for i in 0..<count { y[i] = y[i] * s + b + r[i] }
        case (let r?, true): for i in 0..<count { y[i] = max(y[i] * s + b + r[i], 0) }
        }
    }
}
