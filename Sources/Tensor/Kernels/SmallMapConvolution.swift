/// Convolution on maps so small that each output pixel sees most of the input map: ResNet's layer4 on
/// 2x2 maps at 64 px (1x1 at 32 px), where the unfolded GEMM multiplies padding zeros for five of a
/// 3x3 kernel's nine taps and Winograd has one tile per image.
///
/// Every output pixel p = (oy, ox) takes input pixel q = (iy, ix) through the kernel's tap
/// t = (iy − oy·sh + ph, ix − ox·sw + pw) where that lies inside the kernel. With the pixels moved
/// outward (X[c, q, n] = x[c, n, q], Y likewise) each tap's pairs are GEMMs on whole [channels, N]
/// blocks, and a run of pairs whose p and q both step by one is a single GEMM over their columns:
///   W_t[o, c] = w[o, c, t]                        (the taps some pair uses; inference keeps them per
///                                                  weight version, training from forward to backward)
///   Y[:, p, :] += W_t × X[:, q, :]                for every pair (p, q) of tap t
///   dX[:, q, :] += W_tᵀ × dY[:, p, :];  dW_t += dY[:, p, :] × X[:, q, :]ᵀ;  dw[o, c, t] += dW_t[o, c]
/// For a 3x3 kernel on a 2x2 map that is 16 products per channel pair against the direct path's 36,
/// in 11 GEMMs (the centre tap's four pairs are one run; the taps above and below, two each). The
/// workers split the output channels (forward, dW) or the input channels (dX), each running its GEMMs
/// on OpenBLAS's one thread. Where it applies is `EngineSettings.current.smallMaps`.
public enum SmallMapConvolution {
    /// The tap matrices W_t for one convolution on inputs of one size.
    public struct PreparedWeights: Sendable {
        public let geometry: ConvolutionGeometry
        public let inputSize: Size
        /// [used taps, Co, Ci]: `Shape.usedTaps`' matrices one after another.
        var taps: [Float]
        public var byteCount: Int { taps.count * MemoryLayout<Float>.stride }

        func fits(_ g: ConvolutionGeometry, height: Int, width: Int) -> Bool {
            geometry == g && inputSize == Size(height: height, width: width)
        }
    }

    public struct Size: Sendable, Equatable {
        public var height: Int, width: Int
        public init(height: Int, width: Int) { self.height = height; self.width = width }
    }

    /// The tap matrices of `weight` ([Co, Ci·kh·kw]) for `height` x `width` inputs, written into
    /// `reusing`'s buffer when it has the size; `reusing` is emptied.
    public static func prepare(_ weight: Tensor, for g: ConvolutionGeometry, height h: Int, width w: Int,
                               reusing old: inout PreparedWeights?) -> PreparedWeights {
        precondition(weight.count == g.outChannels * g.patchSize, "conv weight \(weight.shape)")
        let shape = Shape(g, height: h, width: w)
        var taps = old?.taps ?? []
        old = nil
        // Every element is written by `gatherTaps`.
        if taps.count != shape.tapFloats { taps = [Float](unsafeUninitializedCapacity: shape.tapFloats) { $1 = shape.tapFloats } }
        taps.withUnsafeMutableBufferPointer { shape.gatherTaps(weight, into: $0.baseAddress!) }
        return PreparedWeights(geometry: g, inputSize: Size(height: h, width: w), taps: taps)
    }

    /// The tap matrices in a new buffer.
    public static func prepare(_ weight: Tensor, for g: ConvolutionGeometry, height: Int, width: Int) -> PreparedWeights {
        var none: PreparedWeights?
        return prepare(weight, for: g, height: height, width: width, reusing: &none)
    }

    /// The sizes of one convolution on one input size, the taps its pixel pairs use, and their runs.
    struct Shape {
        /// Pairs (output + i, input + i) for i in 0..<length, all through the tap matrix `tap`.
        struct Run: Equatable {
            let tap: Int, output: Int, input: Int, length: Int
        }

        let g: ConvolutionGeometry
        /// Pixels of an output and of an input map.
        let pOut: Int, pIn: Int
        /// The kernel tap (ky·kw + kx) of each tap matrix: the taps at least one pair uses, in order.
        let usedTaps: [Int]
        /// Every pair in runs, those of one tap matrix together, in the order of `usedTaps`.
        let runs: [Run]

        var tapFloats: Int { usedTaps.count * g.outChannels * g.inChannels }

        init(_ g: ConvolutionGeometry, height h: Int, width w: Int) {
            let (ho, wo) = g.outputSize(height: h, width: w)
            self.g = g
            (pOut, pIn) = (ho * wo, h * w)
            var pairs = [[(p: Int, q: Int)]](repeating: [], count: g.kernel.height * g.kernel.width)
            for oy in 0..<ho {
                for ox in 0..<wo {
                    for iy in 0..<h {
                        for ix in 0..<w {
                            let ky = iy - oy * g.stride.height + g.padding.height
                            let kx = ix - ox * g.stride.width + g.padding.width
                            if ky >= 0 && ky < g.kernel.height && kx >= 0 && kx < g.kernel.width {
                                pairs[ky * g.kernel.width + kx].append((oy * wo + ox, iy * w + ix))
                            }
                        }
                    }
                }
            }
            var usedTaps = [Int](), runs = [Run]()
            for (tap, list) in pairs.enumerated() where !list.isEmpty {
                var start = 0
                for i in 1...list.count where i == list.count || list[i].p != list[i - 1].p + 1 || list[i].q != list[i - 1].q + 1 {
                    runs.append(Run(tap: usedTaps.count, output: list[start].p, input: list[start].q, length: i - start))
                    start = i
                }
                usedTaps.append(tap)
            }
            (self.usedTaps, self.runs) = (usedTaps, runs)
        }

        /// taps[i, o, c] = w[o, c, usedTaps[i]] for the output channels `outputs`: each output channel's
        /// weights (in cache) read once per tap.
        func gatherTaps(_ w: UnsafePointer<Float>, outputChannels outputs: Range<Int>, into taps: UnsafeMutablePointer<Float>) {
            let kernelSize = g.kernel.height * g.kernel.width, matrix = g.outChannels * g.inChannels
            for o in outputs {
                for (i, tap) in usedTaps.enumerated() {
                    let row = taps + i * matrix + o * g.inChannels, weights = w + o * g.patchSize + tap
                    for c in 0..<g.inChannels { row[c] = weights[c * kernelSize] }
                }
            }
        }

        /// Every output channel's tap matrices gathered from `weight`, the channels split over the workers.
        func gatherTaps(_ weight: Tensor, into taps: UnsafeMutablePointer<Float>) {
            weight.scalars.withUnsafeBufferPointer { wp in
                Parallel.forEachChunk(g.outChannels, costPerItem: g.patchSize) { range in
                    gatherTaps(wp.baseAddress!, outputChannels: range, into: taps)
                }
            }
        }

        /// dw[o, c, usedTaps[i]] += dTaps[i, o, c] for the output channels `outputs`: the adjoint of `gatherTaps`.
        func scatterTaps(_ dTaps: UnsafePointer<Float>, outputChannels outputs: Range<Int>, into dw: UnsafeMutablePointer<Float>) {
            let kernelSize = g.kernel.height * g.kernel.width, matrix = g.outChannels * g.inChannels
            for o in outputs {
                for (i, tap) in usedTaps.enumerated() {
                    let row = dTaps + i * matrix + o * g.inChannels, gradients = dw + o * g.patchSize + tap
                    for c in 0..<g.inChannels { gradients[c * kernelSize] += row[c] }
                }
            }
        }
    }

    /// y = conv(x) + b by the tap matrices: `prepared`'s, else made here.
    public static func forward(_ x: Tensor, weight: Tensor, prepared: PreparedWeights?, bias: Tensor?,
                               geometry g: ConvolutionGeometry, workspace: inout [Float]) -> Tensor {
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        precondition(x.rank == 4 && x.shape[0] == g.inChannels, "conv input \(x.shape) for \(g.inChannels) channels")
        precondition(prepared.map { $0.fits(g, height: h, width: w) } ?? true, "small-map weights prepared for another input")
        let shape = Shape(g, height: h, width: w)
        let (ho, wo) = g.outputSize(height: h, width: w)
        let xCount = g.inChannels * shape.pIn * n, yCount = g.outChannels * shape.pOut * n
        let needed = xCount + yCount + (prepared == nil ? shape.tapFloats : 0)
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        return Tensor(shape: [g.outChannels, n, ho, wo]) { yp in
            workspace.withUnsafeMutableBufferPointer { buffer in
                let xm = buffer.baseAddress!, ym = xm + xCount, made = ym + yCount
                x.scalars.withUnsafeBufferPointer { xp in
                    pixelsOutward(xp.baseAddress!, channels: g.inChannels, batch: n, pixels: shape.pIn, into: xm)
                }
                withTaps(weight, prepared: prepared, shape: shape, scratch: made) { taps in
                    let matrix = g.outChannels * g.inChannels, ldy = shape.pOut * n
                    forEachSlice(of: g.outChannels) { outputs in
                        let rows = ym + outputs.lowerBound * ldy
                        rows.update(repeating: 0, count: outputs.count * ldy)
                        for run in shape.runs {
                            BLAS.gemm(m: outputs.count, n: run.length * n, k: g.inChannels,
                                      a: taps + run.tap * matrix + outputs.lowerBound * g.inChannels, lda: g.inChannels,
                                      b: xm + run.input * n, ldb: shape.pIn * n, beta: 1, c: rows + run.output * n, ldc: ldy)
                        }
                    }
                }
                pixelsInward(ym, channels: g.outChannels, batch: n, pixels: shape.pOut, into: yp.baseAddress!)
            }
            if let bias { addBias(bias, to: yp, rows: g.outChannels, columns: n * shape.pOut) }
        }
    }

    /// Returns dx (empty without `inputGradient`) and accumulates dw += the weight gradient; the bias
    /// gradient is the caller's (a row sum of dy, as on every path). `prepared`: the forward pass's tap
    /// matrices (else made here). Each worker takes a slice of the input channels for dX and a slice
    /// of the output channels for dW, whose tap gradients it adds into dw itself.
    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, prepared: PreparedWeights?, geometry g: ConvolutionGeometry,
                                weightGradient: inout Tensor, inputGradient: Bool, workspace: inout [Float]) -> Tensor {
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        precondition(prepared.map { $0.fits(g, height: h, width: w) } ?? true, "small-map weights prepared for another input")
        let shape = Shape(g, height: h, width: w)
        let xCount = g.inChannels * shape.pIn * n, yCount = g.outChannels * shape.pOut * n
        let made = inputGradient && prepared == nil ? shape.tapFloats : 0
        let needed = 2 * xCount + yCount + shape.tapFloats + made
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        var dx = Tensor(shape: [0])
        workspace.withUnsafeMutableBufferPointer { buffer in
            let xm = buffer.baseAddress!, dym = xm + xCount, dxm = dym + yCount, dTaps = dxm + xCount, scratch = dTaps + shape.tapFloats
            x.scalars.withUnsafeBufferPointer { pixelsOutward($0.baseAddress!, channels: g.inChannels, batch: n, pixels: shape.pIn, into: xm) }
            dy.scalars.withUnsafeBufferPointer { pixelsOutward($0.baseAddress!, channels: g.outChannels, batch: n, pixels: shape.pOut, into: dym) }
            let matrix = g.outChannels * g.inChannels, ldx = shape.pIn * n, ldy = shape.pOut * n
            weightGradient.scalars.withUnsafeMutableBufferPointer { dwp in
                forEachSlice(of: g.outChannels) { outputs in
                    var first = [Bool](repeating: true, count: shape.usedTaps.count)
                    for run in shape.runs {
                        BLAS.gemm(transposeB: true, m: outputs.count, n: g.inChannels, k: run.length * n,
                                  a: dym + outputs.lowerBound * ldy + run.output * n, lda: ldy, b: xm + run.input * n, ldb: ldx,
                                  beta: first[run.tap] ? 0 : 1, c: dTaps + run.tap * matrix + outputs.lowerBound * g.inChannels,
                                  ldc: g.inChannels)
                        first[run.tap] = false
                    }
                    shape.scatterTaps(dTaps, outputChannels: outputs, into: dwp.baseAddress!)
                }
            }
            guard inputGradient else { return }
            withTaps(weight, prepared: prepared, shape: shape, scratch: scratch) { taps in
                forEachSlice(of: g.inChannels) { inputs in
                    let rows = dxm + inputs.lowerBound * ldx
                    rows.update(repeating: 0, count: inputs.count * ldx)
                    for run in shape.runs {
                        BLAS.gemm(transposeA: true, m: inputs.count, n: run.length * n, k: g.outChannels,
                                  a: taps + run.tap * matrix + inputs.lowerBound, lda: g.inChannels, b: dym + run.output * n, ldb: ldy,
                                  beta: 1, c: rows + run.input * n, ldc: ldx)
                    }
                }
            }
            dx = Tensor(shape: x.shape) { dxp in
                pixelsInward(dxm, channels: g.inChannels, batch: n, pixels: shape.pIn, into: dxp.baseAddress!)
            }
        }
        return dx
    }

    /// `body(tapMatrices)`: `prepared`'s, else gathered from `weight` into `scratch`.
    private static func withTaps(_ weight: Tensor, prepared: PreparedWeights?, shape: Shape, scratch: UnsafeMutablePointer<Float>,
                                 _ body: (UnsafePointer<Float>) -> Void) {
        if let prepared {
            prepared.taps.withUnsafeBufferPointer { body($0.baseAddress!) }
            return
        }
        shape.gatherTaps(weight, into: scratch)
        body(scratch)
    }

    /// `body(channels)` on each worker for its slice of `0..<count` (OpenBLAS on one thread meanwhile).
    private static func forEachSlice(of count: Int, _ body: (Range<Int>) -> Void) {
        let workers = min(EngineSettings.current.workers, count)
        BLAS.onEachWorker { worker in
            guard worker < workers else { return }
            let range = (count * worker / workers)..<(count * (worker + 1) / workers)
            if !range.isEmpty { body(range) }
        }
    }

    /// m[c, q, n] = t[c, n, q]: each channel's [N, P] block transposed.
    static func pixelsOutward(_ t: UnsafePointer<Float>, channels: Int, batch: Int, pixels: Int, into m: UnsafeMutablePointer<Float>) {
        transposeBlocks(t, channels: channels, rows: batch, columns: pixels, into: m)
    }

    /// t[c, n, q] = m[c, q, n]: the inverse of `pixelsOutward`.
    static func pixelsInward(_ m: UnsafePointer<Float>, channels: Int, batch: Int, pixels: Int, into t: UnsafeMutablePointer<Float>) {
        transposeBlocks(m, channels: channels, rows: pixels, columns: batch, into: t)
    }

    /// Each channel's [rows, columns] block transposed, written one output row after another.
    private static func transposeBlocks(_ source: UnsafePointer<Float>, channels: Int, rows: Int, columns: Int,
                                        into target: UnsafeMutablePointer<Float>) {
        Parallel.forEachChunk(channels, costPerItem: rows * columns) { range in
            for c in range {
                let from = source + c * rows * columns, to = target + c * rows * columns
                for column in 0..<columns {
                    for row in 0..<rows { to[column * rows + row] = from[row * columns + column] }
                }
            }
        }
    }
}
