/// The shape of a 2-D convolution (groups = 1): kernel, stride, padding, channels.
public struct ConvolutionGeometry: Sendable, Equatable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernel: (height: Int, width: Int)
    public var stride: (height: Int, width: Int)
    public var padding: (height: Int, width: Int)

    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.init(inChannels: inChannels, outChannels: outChannels, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: (padding, padding))
    }

    public init(inChannels: Int, outChannels: Int, kernel: (height: Int, width: Int), stride: (height: Int, width: Int),
                padding: (height: Int, width: Int)) {
        precondition(inChannels > 0 && outChannels > 0 && kernel.height > 0 && kernel.width > 0)
        precondition(stride.height > 0 && stride.width > 0 && padding.height >= 0 && padding.width >= 0)
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.inChannels == b.inChannels && a.outChannels == b.outChannels && a.kernel == b.kernel && a.stride == b.stride
            && a.padding == b.padding
    }

    /// Rows of the unfolded input, columns of the weight matrix: Ci·kh·kw.
    public var patchSize: Int { inChannels * kernel.height * kernel.width }

    /// A 1x1, stride-1, unpadded convolution is a plain GEMM on the input: no unfolding.
    public var isPointwise: Bool {
        kernel == (1, 1) && stride == (1, 1) && padding == (0, 0)
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        ((height + 2 * padding.height - kernel.height) / stride.height + 1,
         (width + 2 * padding.width - kernel.width) / stride.width + 1)
    }
}

/// Convolution as unfold + one GEMM over the whole batch, in the engine's feature-major layout.
///
/// Shapes: input x is [Ci, N, H, W]; weight w is [Co, Ci·kh·kw] (PyTorch's [Co, Ci, kh, kw] flattened);
/// bias b is [Co]; output y is [Co, N, Ho, Wo].
/// Forward:  cols[Ci·kh·kw, N·Ho·Wo] = unfold(x);  y = w × cols + b
/// Backward: dw += dy × colsᵀ;  db += Σ dy;  dx = fold(wᵀ × dy)
/// 3x3 stride-1 convolutions where `EngineSettings.WinogradSettings.applies` take the forward pass and the input gradient
/// (the forward pass's adjoint) by Winograd, and where `appliesToWeightGradient` the weight
/// gradient too.
/// Images are processed in groups sized so the unfolded buffer stays in cache between unfold and GEMM
/// while each GEMM keeps thousands of columns (`imagesPerGroup`). Which path runs, and the group
/// sizes, are `EngineSettings.current`'s.
public enum Convolution {

    /// `prepared`: the weights in the form the path multiplies by (Winograd's U, the small-map tap
    /// matrices), made once by a caller that runs the same weights many times (inference); used where
    /// they fit the path that runs, else made here. `epilogue` (inference, in place of `bias`): the batch norm,
    /// residual and ReLU after the convolution, applied as the output is written where the path can.
    /// `training`: a training step's pass, whose path may differ (`EngineSettings.SmallMapSettings`).
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry,
                               prepared: PreparedConvolutionWeights? = nil, epilogue: ConvolutionEpilogue? = nil,
                               training: Bool = false, workspace: inout [Float]) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] == g.inChannels, "conv input \(x.shape) for \(g.inChannels) channels")
        precondition(weight.count == g.outChannels * g.patchSize, "conv weight \(weight.shape)")
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (ho, wo) = g.outputSize(height: h, width: w)
        precondition(ho > 0 && wo > 0, "conv output would be \(ho)x\(wo) for input \(h)x\(w)")
        precondition(epilogue == nil || bias == nil, "a convolution's bias goes into its epilogue's shift")
        epilogue?.check([g.outChannels, n, ho, wo])
        let settings = EngineSettings.current
        if let epilogue, let pooling = epilogue.pooling {
            if !g.isPointwise && !settings.smallMaps.applies(to: g, height: h, width: w, training: training)
                && !settings.winograd.applies(to: g, outputPixels: ho * wo) && settings.convolution.groupsAcrossWorkers
                && g.outChannels * n * ho * wo >= settings.convolution.pooledInCacheFloats {
                return pooledForward(x, weight: weight, geometry: g, epilogue: epilogue, pooling: pooling, workspace: &workspace)
            }
            var unpooled = epilogue
            unpooled.pooling = nil
            let y = forward(x, weight: weight, bias: nil, geometry: g, prepared: prepared, epilogue: unpooled, training: training,
                            workspace: &workspace)
            return MaxPooling.forward(y, geometry: pooling, recordingArgmax: false).output
        }
        if settings.smallMaps.applies(to: g, height: h, width: w, training: training) {
            var y = SmallMapConvolution.forward(x, weight: weight, prepared: prepared?.smallMap, bias: bias, geometry: g,
                                                workspace: &workspace)
            if let epilogue { y.scalars.withUnsafeMutableBufferPointer { epilogue.apply(to: $0, channels: g.outChannels) } }
            return y
        }
        if settings.winograd.applies(to: g, outputPixels: ho * wo) {
            let current = Winograd.current(prepared?.winograd, weight: weight, for: g)
            return Winograd.forward(x, prepared: current, bias: bias, epilogue: epilogue, geometry: g, workspace: &workspace)
        }
        let columns = n * ho * wo, k = g.patchSize
        // Every column block is written by a GEMM with β = 0, so the output needs no zero fill.
        return Tensor(shape: [g.outChannels, n, ho, wo]) { yp in
            weight.scalars.withUnsafeBufferPointer { wp in
                x.scalars.withUnsafeBufferPointer { xp in
                    if g.isPointwise {
                        BLAS.gemm(m: g.outChannels, n: columns, k: k, a: wp.baseAddress!, lda: k, b: xp.baseAddress!,
                                  ldb: columns, c: yp.baseAddress!, ldc: columns)
                        return
                    }
                    // The images `first ..< first + count`, output rows `rows` of each (a band of one
                    // image, or every row), unfolded and multiplied into their columns of y.
                    let multiply = { (first: Int, count: Int, rows: Range<Int>, cols: UnsafeMutablePointer<Float>, parallel: Bool) in
                        unfoldAndMultiply(xp.baseAddress!, weight: wp.baseAddress!, geometry: g, batch: n, height: h, width: w,
                                          images: first..<(first + count), outputRows: rows, columns: cols, parallel: parallel,
                                          into: yp.baseAddress! + first * ho * wo, ldc: columns)
                    }
                    if let perWorker = workerGroupImages(n: n, columnsPerImage: ho * wo, k: k, settings: settings) {
                        let bandRows = perWorker == 1 ? workerBandRows(outputHeight: ho, outputWidth: wo, k: k, settings: settings) : nil
                        forEachGroupAcrossWorkers(n: n, imagesPerGroup: perWorker, outputHeight: ho, rowsPerBand: bandRows ?? ho,
                                                  floatsPerRow: wo * k, workspace: &workspace) { multiply($0, $1, $2, $3, false) }
                    } else {
                        forEachImageGroup(n: n, columnsPerImage: ho * wo, k: k, settings: settings.convolution,
                                          workspace: &workspace) { multiply($0, $1, 0..<ho, $2, true) }
                    }
                }
            }
            if let bias { addBias(bias, to: yp, rows: g.outChannels, columns: columns) }
            epilogue?.apply(to: yp, channels: g.outChannels)
        }
    }

    /// Output rows `outputRows` of `images`, unfolded into `columns` and multiplied by the weights: the
    /// result's row o (output channel o) at `c + o·ldc`, each image's rows `outputRows` one after another
    /// from the first row's offset (`outputRows.lowerBound · wo`).
    static func unfoldAndMultiply(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, geometry g: ConvolutionGeometry,
                                  batch n: Int, height h: Int, width w: Int, images: Range<Int>, outputRows rows: Range<Int>,
                                  columns: UnsafeMutablePointer<Float>, parallel: Bool, into c: UnsafeMutablePointer<Float>, ldc: Int) {
        let wo = g.outputSize(height: h, width: w).width, k = g.patchSize, count = images.count * rows.count * wo
        Unfold.unfold(x, channels: g.inChannels, batch: n, height: h, width: w, images: images, outputRows: rows, geometry: g,
                      into: columns, parallel: parallel)
        BLAS.gemm(m: g.outChannels, n: count, k: k, a: weight, lda: k, b: columns, ldb: count, c: c + rows.lowerBound * wo, ldc: ldc)
    }

    /// A training step's forward pass: where Winograd takes the weight gradient too, V (the transformed
    /// input) goes into `kept` for `backward(...kept:)`; elsewhere `kept` is emptied. `prepared` as in
    /// the forward pass above (a layer keeps U for its backward pass).
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry,
                               prepared: PreparedConvolutionWeights? = nil, keeping kept: inout Winograd.KeptInput?,
                               workspace: inout [Float]) -> Tensor {
        precondition(x.rank == 4 && x.shape[0] == g.inChannels, "conv input \(x.shape) for \(g.inChannels) channels")
        let (ho, wo) = g.outputSize(height: x.shape[2], width: x.shape[3])
        let settings = EngineSettings.current
        guard ho > 0 && wo > 0 && !settings.smallMaps.applies(to: g, height: x.shape[2], width: x.shape[3], training: true)
            && settings.winograd.appliesToWeightGradient(of: g, outputPixels: ho * wo) else {
            kept = nil
            return forward(x, weight: weight, bias: bias, geometry: g, prepared: prepared, training: true, workspace: &workspace)
        }
        let current = Winograd.current(prepared?.winograd, weight: weight, for: g)
        return Winograd.forward(x, prepared: current, bias: bias, geometry: g, keeping: &kept, workspace: &workspace)
    }

    /// Returns dx; accumulates into `weightGradient` ([Co, Ci·kh·kw]) and `biasGradient` ([Co]).
    /// With `inputGradient: false` (a network's first layer, whose input is the image) dx is not
    /// computed and an empty tensor comes back: half the backward GEMMs and the whole fold are skipped.
    /// Where Winograd applies, the input gradient is its adjoint (`Winograd.backward`), which needs U:
    /// `prepared` when given (a layer keeps its forward pass's), else made here. `kept`: Winograd's V
    /// from this input's forward pass (`forward(...keeping:...)`), if any.
    public static func backward(_ dy: Tensor, input x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry,
                                weightGradient: inout Tensor, biasGradient: inout Tensor?, workspace: inout [Float],
                                inputGradient: Bool = true, prepared: PreparedConvolutionWeights? = nil,
                                kept: Winograd.KeptInput? = nil) -> Tensor {
        backward(dy, input: x, inputShape: x.shape, weight: weight, geometry: g, weightGradient: &weightGradient,
                 biasGradient: &biasGradient, workspace: &workspace, inputGradient: inputGradient, prepared: prepared, kept: kept)
    }

    /// The backward pass of a training forward pass whose input was let go (`needsInput(keeping:)` was
    /// false): Winograd takes both gradients, the weight gradient from `kept`'s V.
    public static func backward(_ dy: Tensor, keptOnly kept: Winograd.KeptInput, weight: Tensor, geometry g: ConvolutionGeometry,
                                weightGradient: inout Tensor, biasGradient: inout Tensor?, workspace: inout [Float],
                                inputGradient: Bool = true, prepared: PreparedConvolutionWeights? = nil) -> Tensor {
        backward(dy, input: nil, inputShape: kept.inputShape, weight: weight, geometry: g, weightGradient: &weightGradient,
                 biasGradient: &biasGradient, workspace: &workspace, inputGradient: inputGradient, prepared: prepared, kept: kept)
    }

    /// Whether the backward pass of a training forward pass that kept `kept` needs the input itself: not
    /// where Winograd takes the weight gradient from the kept V (and with it the input gradient, from U),
    /// so a layer can let the input go and the memory is freed once no other layer holds it.
    public static func needsInput(keeping kept: Winograd.KeptInput?) -> Bool {
        guard let kept else { return true }
        let settings = EngineSettings.current.winograd
        let (ho, wo) = kept.geometry.outputSize(height: kept.inputShape[2], width: kept.inputShape[3])
        return !(settings.appliesToWeightGradient(of: kept.geometry, outputPixels: ho * wo) && kept.isCurrent(under: settings))
    }

    /// `x` nil: its V is `kept`, and Winograd takes both gradients.
    private static func backward(_ dy: Tensor, input x: Tensor?, inputShape: [Int], weight: Tensor, geometry g: ConvolutionGeometry,
                                 weightGradient: inout Tensor, biasGradient: inout Tensor?, workspace: inout [Float],
                                 inputGradient: Bool, prepared: PreparedConvolutionWeights?, kept: Winograd.KeptInput?) -> Tensor {
        let n = inputShape[1], h = inputShape[2], w = inputShape[3]
        let (ho, wo) = g.outputSize(height: h, width: w)
        precondition(dy.shape == [g.outChannels, n, ho, wo], "conv output gradient \(dy.shape)")
        let columns = n * ho * wo, k = g.patchSize
        let settings = EngineSettings.current
        // Small maps keep no V: their training forward pass holds the input (`needsInput`).
        if let x, settings.smallMaps.applies(to: g, height: h, width: w, training: true) {
            if biasGradient != nil { accumulateBiasGradient(dy, rows: g.outChannels, columns: columns, into: &biasGradient!) }
            return SmallMapConvolution.backward(dy, input: x, weight: weight, prepared: prepared?.smallMap, geometry: g,
                                                weightGradient: &weightGradient,
                                                inputGradient: inputGradient, workspace: &workspace)
        }
        // The input gradient by Winograd's adjoint wherever its forward pass applies, and the weight
        // gradient where that pays too (its GEMMs sum over the tiles: too few on small maps); else
        // by the unfolded input in the loop below.
        let winogradInput = inputGradient && settings.winograd.applies(to: g, outputPixels: ho * wo)
        let winogradWeights = settings.winograd.appliesToWeightGradient(of: g, outputPixels: ho * wo)
        // Otherwise, at stride 1, dx is the convolution of dy with the weights flipped and transposed,
        // padded by k − 1 − p; an unfold of dy (plain copies) then replaces the fold's scattered adds.
        // Measured faster on maps of 16x16 and more, even at 8x8, slower at 4x4 (`canopy bench kernels`).
        let transposed = ConvolutionGeometry(inChannels: g.outChannels, outChannels: g.inChannels, kernel: g.kernel, stride: (1, 1),
                                             padding: (g.kernel.height - 1 - g.padding.height, g.kernel.width - 1 - g.padding.width))
        let transposedForInput = inputGradient && !winogradInput && settings.convolution.transposedInputGradient && g.stride == (1, 1)
            && !g.isPointwise && g.padding.height < g.kernel.height && g.padding.width < g.kernel.width && ho * wo >= 64
        precondition(x != nil || (winogradWeights && (winogradInput || !inputGradient)),
                     "convolution backward without its input where Winograd does not take both gradients")
        var dx = Tensor(shape: [0])
        if winogradInput || winogradWeights {
            let gradients: Winograd.Gradients = [winogradInput ? .input : [], winogradWeights ? .weight : []]
            dx = Winograd.backward(dy, input: x, inputShape: inputShape, weight: weight, prepared: prepared?.winograd, kept: kept, geometry: g,
                                   computing: gradients, weightGradient: &weightGradient, workspace: &workspace)
        }
        // Only the paths below read the input, and none of them runs without it (the precondition).
        let x = x ?? Tensor(shape: [0])
        // Fully written below: by a GEMM with β = 0 (1x1), by fold, which zeroes each image first, or
        // replaced whole by the transposed convolution.
        if inputGradient && !winogradInput { dx = Tensor(shape: x.shape) { _ in } }
        if biasGradient != nil { accumulateBiasGradient(dy, rows: g.outChannels, columns: columns, into: &biasGradient!) }
        dy.scalars.withUnsafeBufferPointer { dyp in
            weight.scalars.withUnsafeBufferPointer { wp in
                weightGradient.scalars.withUnsafeMutableBufferPointer { dwp in
                    x.scalars.withUnsafeBufferPointer { xp in
                        dx.scalars.withUnsafeMutableBufferPointer { dxp in
                            if g.isPointwise {
                                // dw[Co, Ci] += dy[Co, M] × x[Ci, M]ᵀ ; dx[Ci, M] = w[Co, Ci]ᵀ × dy[Co, M]
                                BLAS.gemm(transposeB: true, m: g.outChannels, n: k, k: columns, a: dyp.baseAddress!,
                                          lda: columns, b: xp.baseAddress!, ldb: columns, beta: 1, c: dwp.baseAddress!, ldc: k)
                                guard inputGradient else { return }
                                BLAS.gemm(transposeA: true, m: k, n: columns, k: g.outChannels, a: wp.baseAddress!, lda: k,
                                          b: dyp.baseAddress!, ldb: columns, c: dxp.baseAddress!, ldc: columns)
                                return
                            }
                            let foldsInput = inputGradient && !winogradInput && !transposedForInput
                            guard foldsInput || !winogradWeights else { return }
                            forEachImageGroup(n: n, columnsPerImage: ho * wo, k: k, settings: settings.convolution,
                                              workspace: &workspace) { first, count, cols in
                                let groupColumns = count * ho * wo
                                let dyGroup = dyp.baseAddress! + first * ho * wo
                                if !winogradWeights {
                                    Unfold.unfold(xp.baseAddress!, channels: g.inChannels, batch: n, height: h, width: w,
                                                  images: first..<(first + count), geometry: g, into: cols)
                                    BLAS.gemm(transposeB: true, m: g.outChannels, n: k, k: groupColumns, a: dyGroup, lda: columns,
                                              b: cols, ldb: groupColumns, beta: 1, c: dwp.baseAddress!, ldc: k)
                                }
                                guard foldsInput else { return }
                                // The unfolded input is no longer needed: its buffer takes the column gradient.
                                BLAS.gemm(transposeA: true, m: k, n: groupColumns, k: g.outChannels, a: wp.baseAddress!, lda: k,
                                          b: dyGroup, ldb: columns, c: cols, ldc: groupColumns)
                                Unfold.fold(cols, channels: g.inChannels, batch: n, height: h, width: w,
                                            images: first..<(first + count), geometry: g, into: dxp.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        if transposedForInput {
            dx = forward(dy, weight: flippedTransposed(weight, geometry: g), bias: nil, geometry: transposed, workspace: &workspace)
        }
        return dx
    }

    /// W'[ci, co, ky, kx] = W[co, ci, kh − 1 − ky, kw − 1 − kx]: the weights of the transposed
    /// convolution that carries dy back to dx.
    static func flippedTransposed(_ weight: Tensor, geometry g: ConvolutionGeometry) -> Tensor {
        let kh = g.kernel.height, kw = g.kernel.width, co = g.outChannels, ci = g.inChannels
        return Tensor(shape: [ci, co, kh, kw]) { out in
            weight.scalars.withUnsafeBufferPointer { w in
                for o in 0..<co {
                    for i in 0..<ci {
                        for ky in 0..<kh {
                            for kx in 0..<kw {
                                out[((i * co + o) * kh + ky) * kw + kx] = w[((o * ci + i) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)]
                            }
                        }
                    }
                }
            }
        }
    }

    /// Images per group: aim at `targetGroupFloats`, never under `minimumGroupColumns` columns, never
    /// over `workspaceLimit` floats (at least one image).
    static func imagesPerGroup(n: Int, columnsPerImage: Int, k: Int, settings: EngineSettings.ConvolutionSettings) -> Int {
        let perImage = max(columnsPerImage * k, 1)
        let aimed = max(settings.targetGroupFloats / perImage,
                        (settings.minimumGroupColumns + columnsPerImage - 1) / max(columnsPerImage, 1))
        return max(1, min(n, aimed, settings.workspaceLimit / perImage))
    }

    /// Images per worker group when the forward pass splits its groups across the workers
    /// (`groupsAcrossWorkers`): when there are at least two workers, the batch makes at least two such
    /// groups, and every worker's buffer together stays within `workspaceLimit`.
    public static func workerGroupImages(n: Int, columnsPerImage: Int, k: Int, settings: EngineSettings = .current) -> Int? {
        let c = settings.convolution
        guard c.groupsAcrossWorkers && settings.workers > 1 else { return nil }
        let perImage = max(columnsPerImage * k, 1)
        let images = workerGroupUnits(columnsPerUnit: columnsPerImage, k: k, settings: c)
        return n / images >= 2 && settings.workers * images * perImage <= c.workspaceLimit ? images : nil
    }

    /// Output rows per band where one image's unfolded input alone overflows a worker's group (the
    /// stem: a 7x7 kernel over 3 channels at 64x64 output is 147 x 4,096 floats, 2.4 MB): bands of
    /// about `workerGroupFloats` unfolded floats, so each stays in the worker's cache from the unfold
    /// to the GEMM, of at least `minimumWorkerColumns` columns; nil where the whole image fits.
    public static func workerBandRows(outputHeight ho: Int, outputWidth wo: Int, k: Int, settings: EngineSettings = .current) -> Int? {
        let c = settings.convolution
        guard c.bandsAcrossWorkers else { return nil }
        let rows = workerGroupUnits(columnsPerUnit: wo, k: k, settings: c)
        return rows < ho ? rows : nil
    }

    /// Units (images, or output rows of one image) of `columnsPerUnit` GEMM columns each in a worker's
    /// group: about `workerGroupFloats` unfolded floats, but at least `minimumWorkerColumns` columns.
    private static func workerGroupUnits(columnsPerUnit: Int, k: Int, settings c: EngineSettings.ConvolutionSettings) -> Int {
        let columns = max(columnsPerUnit, 1)
        return max(1, c.workerGroupFloats / max(columns * k, 1), (c.minimumWorkerColumns + columns - 1) / columns)
    }

    /// Calls `body(firstImage, imageCount, outputRows, unfoldBuffer)` for every group of
    /// `imagesPerGroup` images, each cut into bands of `rowsPerBand` output rows when that is fewer than
    /// `outputHeight` (then a group is one image); worker w takes blocks w, w + workers, ... with its own
    /// buffer.
    private static func forEachGroupAcrossWorkers(n: Int, imagesPerGroup: Int, outputHeight ho: Int, rowsPerBand: Int,
                                                  floatsPerRow: Int, workspace: inout [Float],
                                                  _ body: (Int, Int, Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        precondition(rowsPerBand >= ho || imagesPerGroup == 1, "bands of rows are cut from one image at a time")
        let workers = EngineSettings.current.workers, groups = (n + imagesPerGroup - 1) / imagesPerGroup
        let bandRows = min(rowsPerBand, ho), bands = (ho + bandRows - 1) / bandRows
        let perWorker = imagesPerGroup * bandRows * floatsPerRow
        if workspace.count < workers * perWorker { workspace = [Float](repeating: 0, count: workers * perWorker) }
        workspace.withUnsafeMutableBufferPointer { buffer in
            BLAS.onEachWorker { worker in
                for block in stride(from: worker, to: groups * bands, by: workers) {
                    let first = block / bands * imagesPerGroup, band = block % bands
                    let rows = (band * bandRows)..<min(ho, (band + 1) * bandRows)
                    body(first, min(imagesPerGroup, n - first), rows, buffer.baseAddress! + worker * perWorker)
                }
            }
        }
    }

    /// Calls `body(firstImage, imageCount, unfoldBuffer)` for consecutive groups of images.
    private static func forEachImageGroup(n: Int, columnsPerImage: Int, k: Int, settings: EngineSettings.ConvolutionSettings,
                                          workspace: inout [Float], _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let group = imagesPerGroup(n: n, columnsPerImage: columnsPerImage, k: k, settings: settings)
        let perImage = columnsPerImage * k
        if workspace.count < group * perImage { workspace = [Float](repeating: 0, count: group * perImage) }
        workspace.withUnsafeMutableBufferPointer { buffer in
            var first = 0
            while first < n {
                let count = min(group, n - first)
                body(first, count, buffer.baseAddress!)
                first += count
            }
        }
    }
}

/// y[r, :] += bias[r] for a [rows, columns] matrix.
func addBias(_ bias: Tensor, to y: UnsafeMutableBufferPointer<Float>, rows: Int, columns: Int) {
    bias.scalars.withUnsafeBufferPointer { b in
        Parallel.forEachChunk(rows, costPerItem: columns) { range in
            for r in range {
                let value = b[r]
                let row = y.baseAddress! + r * columns
                for c in 0..<columns { row[c] += value }
            }
        }
    }
}

/// db[o] += Σ dy[o, ...] for dy as a [rows, columns] matrix.
func accumulateBiasGradient(_ dy: Tensor, rows: Int, columns: Int, into db: inout Tensor) {
    dy.scalars.withUnsafeBufferPointer { dyp in
        db.scalars.withUnsafeMutableBufferPointer { sumRows(dyp, rows: rows, columns: columns, into: $0) }
    }
}

/// out[r] += Σ_c m[r, c] for a [rows, columns] matrix.
func sumRows(_ m: UnsafeBufferPointer<Float>, rows: Int, columns: Int, into out: UnsafeMutableBufferPointer<Float>) {
    Parallel.forEachChunk(rows, costPerItem: columns) { range in
        for r in range {
            let row = m.baseAddress! + r * columns
            var sum: Float = 0
            for c in 0..<columns { sum += row[c] }
            out[r] += sum
        }
    }
}
