/// Convolution on maps so small that each output pixel sees most of the input map: ResNet's layer4 on
/// 2x2 maps at 64 px (1x1 at 32 px), where the unfolded GEMM multiplies padding zeros for five of a
/// 3x3 kernel's nine taps and Winograd has one tile per image.
///
/// Every output pixel p = (oy, ox) is a linear function of every input pixel q = (iy, ix), with the
/// weight of tap (iy − oy·sh + ph, ix − ox·sw + pw) where that lies inside the kernel and zero where it
/// does not. Laid out as one dense matrix over (pixel, channel) pairs, the convolution is a single
/// GEMM with no unfolding and none of the padding's products:
///   W″[(o, p), (c, q)]  = w[o, c, tap(p, q)], or 0         (inference: once per weight version, `prepare`;
///                                                           training: block by block in cache, every pass)
///   X[(c, q), n]        = x[c, n, q]                       (a transpose of each channel's [N, P] block)
///   Y = W″ × X;  y[o, n, p] = Y[(o, p), n] + b[o]
///   dX = W″ᵀ × dY;  dW″ = dY × Xᵀ;  dw[o, c, t] += Σ over (p, q) with tap(p, q) = t of dW″[(o, p), (c, q)]
/// For a 3x3 kernel on a 2x2 map that is 4·4 products per channel pair against the direct path's 4·9.
/// Where it applies is `EngineSettings.current.smallMaps`.
public enum SmallMapConvolution {
    /// W″ for one convolution on inputs of one size.
    public struct PreparedWeights: Sendable {
        public let geometry: ConvolutionGeometry
        public let inputSize: Size
        var dense: [Float]
        public var byteCount: Int { dense.count * MemoryLayout<Float>.stride }

        func fits(_ g: ConvolutionGeometry, height: Int, width: Int) -> Bool {
            geometry == g && inputSize == Size(height: height, width: width)
        }
    }

    public struct Size: Sendable, Equatable {
        public var height: Int, width: Int
        public init(height: Int, width: Int) { self.height = height; self.width = width }
    }

    /// W″ for `weight` ([Co, Ci·kh·kw]) on `height` x `width` inputs, written into `reusing`'s buffer
    /// when it has the size; `reusing` is emptied.
    public static func prepare(_ weight: Tensor, for g: ConvolutionGeometry, height h: Int, width w: Int,
                               reusing old: inout PreparedWeights?) -> PreparedWeights {
        precondition(weight.count == g.outChannels * g.patchSize, "conv weight \(weight.shape)")
        let shape = Shape(g, height: h, width: w)
        let count = g.outChannels * shape.pOut * shape.columns
        var dense = old?.dense ?? []
        old = nil
        // Every element is written below (the weight or the zero of a tap outside the kernel).
        if dense.count != count { dense = [Float](unsafeUninitializedCapacity: count) { $1 = count } }
        weight.scalars.withUnsafeBufferPointer { wp in
            dense.withUnsafeMutableBufferPointer { dp in
                Parallel.forEachChunk(g.outChannels, costPerItem: shape.pOut * shape.columns) { range in
                    shape.denseRows(wp.baseAddress!, outputChannels: range, into: dp.baseAddress! + range.lowerBound * shape.pOut * shape.columns)
                }
            }
        }
        return PreparedWeights(geometry: g, inputSize: Size(height: h, width: w), dense: dense)
    }

    /// W″ in a new buffer.
    public static func prepare(_ weight: Tensor, for g: ConvolutionGeometry, height: Int, width: Int) -> PreparedWeights {
        var none: PreparedWeights?
        return prepare(weight, for: g, height: height, width: width, reusing: &none)
    }

    /// The sizes of one convolution on one input size, and its table of taps.
    struct Shape {
        let g: ConvolutionGeometry
        /// Pixels of an output and of an input map; W″'s columns (Ci·pIn).
        let pOut: Int, pIn: Int, columns: Int
        /// tap(p, q) for every (output pixel, input pixel) pair, p-major: ky·kw + kx, or −1 outside the kernel.
        let taps: [Int]

        init(_ g: ConvolutionGeometry, height h: Int, width w: Int) {
            let (ho, wo) = g.outputSize(height: h, width: w)
            self.g = g
            (pOut, pIn, columns) = (ho * wo, h * w, g.inChannels * h * w)
            var taps = [Int]()
            taps.reserveCapacity(pOut * pIn)
            for oy in 0..<ho {
                for ox in 0..<wo {
                    for iy in 0..<h {
                        for ix in 0..<w {
                            let ky = iy - oy * g.stride.height + g.padding.height
                            let kx = ix - ox * g.stride.width + g.padding.width
                            let inside = ky >= 0 && ky < g.kernel.height && kx >= 0 && kx < g.kernel.width
                            taps.append(inside ? ky * g.kernel.width + kx : -1)
                        }
                    }
                }
            }
            self.taps = taps
        }

        /// W″'s rows of output channels `outputs` ([outputs.count·pOut, columns]) from w ([Co, Ci·kh·kw]).
        func denseRows(_ w: UnsafePointer<Float>, outputChannels outputs: Range<Int>, into rows: UnsafeMutablePointer<Float>) {
            forEachEntry(outputChannels: outputs) { entry, weight in rows[entry] = weight < 0 ? 0 : w[weight] }
        }

        /// dw[o, c, t] += Σ over (p, q) with tap(p, q) = t of dW″[(o, p), (c, q)] for the output channels
        /// `outputs`, whose rows of dW″ start at `rows`: the adjoint of `denseRows`.
        func accumulateTaps(_ rows: UnsafePointer<Float>, outputChannels outputs: Range<Int>, into dw: UnsafeMutablePointer<Float>) {
            forEachEntry(outputChannels: outputs) { entry, weight in if weight >= 0 { dw[weight] += rows[entry] } }
        }

        /// `body(entry, weight)` for every entry of W″'s rows of output channels `outputs`: its offset
        /// from the first of those rows, and the index in w of its weight, or −1 where its tap falls
        /// outside the kernel. Channel by channel: the kh·kw weights of (o, c) together, and each row's
        /// pIn entries of c one after another.
        @inline(__always)
        private func forEachEntry(outputChannels outputs: Range<Int>, _ body: (Int, Int) -> Void) {
            let kernelSize = g.kernel.height * g.kernel.width
            taps.withUnsafeBufferPointer { taps in
                for (index, o) in outputs.enumerated() {
                    for c in 0..<g.inChannels {
                        let kernel = o * g.patchSize + c * kernelSize
                        for p in 0..<pOut {
                            let row = (index * pOut + p) * columns + c * pIn
                            for q in 0..<pIn {
                                let tap = taps[p * pIn + q]
                                body(row + q, tap < 0 ? -1 : kernel + tap)
                            }
                        }
                    }
                }
            }
        }

        /// Output channels per block of W″ rows: about `floats` of it, so a block made in a worker's
        /// cache is multiplied there.
        func channelsPerBlock(floats: Int) -> Int {
            max(1, min(g.outChannels, floats / max(1, pOut * columns)))
        }
    }

    /// y = conv(x) + b through W″: `prepared`'s whole (inference keeps it), else block by block of
    /// output channels, each block of W″ made in a worker's cache and multiplied there (a training
    /// step's weights change every step, and the whole W″ would go through memory twice).
    public static func forward(_ x: Tensor, weight: Tensor, prepared: PreparedWeights?, bias: Tensor?,
                               geometry g: ConvolutionGeometry, workspace: inout [Float]) -> Tensor {
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        precondition(x.rank == 4 && x.shape[0] == g.inChannels, "conv input \(x.shape) for \(g.inChannels) channels")
        precondition(prepared.map { $0.fits(g, height: h, width: w) } ?? true, "small-map weights prepared for another input")
        let shape = Shape(g, height: h, width: w)
        let (ho, wo) = g.outputSize(height: h, width: w)
        let xCount = shape.columns * n, yCount = g.outChannels * shape.pOut * n
        let settings = EngineSettings.current, workers = settings.workers
        let perBlock = shape.channelsPerBlock(floats: settings.smallMaps.blockFloats), blockFloats = perBlock * shape.pOut * shape.columns
        let needed = xCount + yCount + (prepared == nil ? workers * blockFloats : 0)
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        return Tensor(shape: [g.outChannels, n, ho, wo]) { yp in
            workspace.withUnsafeMutableBufferPointer { buffer in
                let xm = buffer.baseAddress!, ym = xm + xCount, blocks = ym + yCount
                x.scalars.withUnsafeBufferPointer { xp in
                    pixelsOutward(xp.baseAddress!, channels: g.inChannels, batch: n, pixels: shape.pIn, into: xm)
                }
                if let prepared {
                    prepared.dense.withUnsafeBufferPointer { wp in
                        BLAS.gemm(m: g.outChannels * shape.pOut, n: n, k: shape.columns, a: wp.baseAddress!, lda: shape.columns,
                                  b: xm, ldb: n, c: ym, ldc: n)
                    }
                } else {
                    weight.scalars.withUnsafeBufferPointer { wp in
                        forEachBlock(outputChannels: g.outChannels, perBlock: perBlock) { worker, outputs in
                            let dense = blocks + worker * blockFloats
                            shape.denseRows(wp.baseAddress!, outputChannels: outputs, into: dense)
                            BLAS.gemm(m: outputs.count * shape.pOut, n: n, k: shape.columns, a: dense, lda: shape.columns,
                                      b: xm, ldb: n, c: ym + outputs.lowerBound * shape.pOut * n, ldc: n)
                        }
                    }
                }
                pixelsInward(ym, channels: g.outChannels, batch: n, pixels: shape.pOut, into: yp.baseAddress!)
            }
            if let bias { addBias(bias, to: yp, rows: g.outChannels, columns: n * shape.pOut) }
        }
    }

    /// Returns dx (empty without `inputGradient`) and accumulates dw += the weight gradient; the bias
    /// gradient is the caller's (a row sum of dy, as on every path). Block by block of output channels
    /// as the unprepared forward pass: each worker makes a block of W″, adds its share of dX = W″ᵀ dY
    /// into its own sum, then overwrites the block with dW″ = dY × Xᵀ and adds its taps into dw
    /// (the block's output channels are the worker's alone). `prepared` is not needed.
    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry,
                                weightGradient: inout Tensor, inputGradient: Bool, workspace: inout [Float]) -> Tensor {
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        let shape = Shape(g, height: h, width: w)
        let rows = g.outChannels * shape.pOut, xCount = shape.columns * n
        let settings = EngineSettings.current, workers = settings.workers
        let perBlock = shape.channelsPerBlock(floats: settings.smallMaps.blockFloats), blockFloats = perBlock * shape.pOut * shape.columns
        let needed = xCount + rows * n + workers * (blockFloats + xCount)
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        var dx = Tensor(shape: [0])
        workspace.withUnsafeMutableBufferPointer { buffer in
            let xm = buffer.baseAddress!, dym = xm + xCount, blocks = dym + rows * n, sums = blocks + workers * blockFloats
            x.scalars.withUnsafeBufferPointer { pixelsOutward($0.baseAddress!, channels: g.inChannels, batch: n, pixels: shape.pIn, into: xm) }
            dy.scalars.withUnsafeBufferPointer { pixelsOutward($0.baseAddress!, channels: g.outChannels, batch: n, pixels: shape.pOut, into: dym) }
            var used = [Bool](repeating: false, count: workers)
            used.withUnsafeMutableBufferPointer { used in
                weight.scalars.withUnsafeBufferPointer { wp in
                    weightGradient.scalars.withUnsafeMutableBufferPointer { dwp in
                        forEachBlock(outputChannels: g.outChannels, perBlock: perBlock) { worker, outputs in
                            let dense = blocks + worker * blockFloats, blockRows = outputs.count * shape.pOut
                            let dyBlock = dym + outputs.lowerBound * shape.pOut * n
                            if inputGradient {
                                shape.denseRows(wp.baseAddress!, outputChannels: outputs, into: dense)
                                BLAS.gemm(transposeA: true, m: shape.columns, n: n, k: blockRows, a: dense, lda: shape.columns,
                                          b: dyBlock, ldb: n, beta: used[worker] ? 1 : 0, c: sums + worker * xCount, ldc: n)
                                used[worker] = true
                            }
                            BLAS.gemm(transposeB: true, m: blockRows, n: shape.columns, k: n, a: dyBlock, lda: n, b: xm, ldb: n,
                                      c: dense, ldc: shape.columns)
                            shape.accumulateTaps(dense, outputChannels: outputs, into: dwp.baseAddress!)
                        }
                    }
                }
                guard inputGradient else { return }
                // dX is the workers' sums added up (a worker with no block added nothing).
                let first = used.firstIndex(of: true)!
                for worker in (first + 1)..<workers where used[worker] {
                    Unfold.accumulate(sums + worker * xCount, into: sums + first * xCount, count: xCount)
                }
                dx = Tensor(shape: x.shape) { dxp in
                    pixelsInward(sums + first * xCount, channels: g.inChannels, batch: n, pixels: shape.pIn, into: dxp.baseAddress!)
                }
            }
        }
        return dx
    }

    /// `body(worker, outputChannels)` for consecutive blocks of `perBlock` output channels, worker w
    /// taking blocks w, w + workers, ... (OpenBLAS on one thread meanwhile).
    private static func forEachBlock(outputChannels: Int, perBlock: Int, _ body: (Int, Range<Int>) -> Void) {
        let workers = EngineSettings.current.workers, blocks = (outputChannels + perBlock - 1) / perBlock
        BLAS.onEachWorker { worker in
            for block in stride(from: worker, to: blocks, by: workers) {
                let first = block * perBlock
                body(worker, first..<min(outputChannels, first + perBlock))
            }
        }
    }

    /// m[(c, q), n] = t[c, n, q]: each channel's [N, P] block transposed.
    static func pixelsOutward(_ t: UnsafePointer<Float>, channels: Int, batch: Int, pixels: Int, into m: UnsafeMutablePointer<Float>) {
        transposeBlocks(t, channels: channels, rows: batch, columns: pixels, into: m)
    }

    /// t[c, n, q] = m[(c, q), n]: the inverse of `pixelsOutward`.
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
