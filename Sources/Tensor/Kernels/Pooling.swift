/// Window geometry of a 2-D pooling, with PyTorch's output-size rule (including ceil mode).
public struct PoolingGeometry: Sendable, Equatable {
    public var kernel: Int
    public var stride: Int
    public var padding: Int
    public var ceilMode: Bool

    public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        precondition(kernel > 0 && padding >= 0 && padding * 2 <= kernel, "pool kernel \(kernel), padding \(padding)")
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
        precondition(self.stride > 0)
    }

    /// torch.nn.MaxPool2d's rule: in ceil mode the last window must start inside the input or its
    /// left padding, never entirely in the right padding.
    public func outputLength(_ input: Int) -> Int {
        let span = input + 2 * padding - kernel
        var out = (ceilMode ? (span + stride - 1) : span) / stride + 1
        if ceilMode && (out - 1) * stride >= input + padding { out -= 1 }
        return out
    }
}

/// Max pooling over [C, N, H, W] (planes are independent, so work splits by plane).
/// Forward: y[p, oy, ox] = max over the window; remembers the argmax (index within the plane): the
/// first maximum in window order (rows, then columns), or the first NaN, which wins as in PyTorch.
/// Backward: dx[p, argmax] += dy[p, oy, ox].
///
/// The forward pass copies each plane into a scratch plane bordered with −∞ (padding, ceil mode's
/// overhang, and slack for the last lanes), so every window is read the same way: eight neighbouring
/// outputs at a time, one per SIMD lane, with no edge cases and no branches on the data.
public enum MaxPooling {
    /// With `recordingArgmax: false` (inference, no backward pass to come) `argmax` comes back empty.
    public static func forward(_ x: Tensor, geometry g: PoolingGeometry, recordingArgmax: Bool = true) -> (output: Tensor, argmax: [Int32]) {
        precondition(x.rank == 4)
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        let ho = g.outputLength(h), wo = g.outputLength(w)
        precondition(ho > 0 && wo > 0, "max pool output \(ho)x\(wo) from \(h)x\(w)")
        var y = Tensor(shape: [x.shape[0], x.shape[1], ho, wo]) { _ in }
        guard recordingArgmax else {
            x.scalars.withUnsafeBufferPointer { xp in
                y.scalars.withUnsafeMutableBufferPointer { yp in
                    Parallel.forEachChunk(planes, costPerItem: ho * wo * g.kernel * g.kernel) { range in
                        maxima(xp.baseAddress! + range.lowerBound * h * w, planes: range.count, height: h, width: w, geometry: g,
                               into: yp.baseAddress! + range.lowerBound * ho * wo, planeStride: ho * wo)
                    }
                }
            }
            return (y, [])
        }
        let s = g.stride
        let padded = PaddedPlane(height: h, width: w, geometry: g)
        let laneColumns = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &* Int32(s)
        // Each lane's first pixel inside the image, as a column: only the first block can start in the
        // padding, so its clamped starts are worked out once here, not per window.
        let firstBlockStarts = SIMD8<Int32>((0..<8).map { Int32(max($0 * s - g.padding, 0)) })
        var argmax = [Int32](repeating: 0, count: y.count)
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                argmax.withUnsafeMutableBufferPointer { ap in
                    Parallel.forEachChunk(planes, costPerItem: ho * wo * g.kernel * g.kernel) { range in
                        padded.withScratch { scratch in
                            for p in range {
                                padded.copy(xp.baseAddress! + p * h * w, into: scratch)
                                for oy in 0..<ho {
                                    let output = (p * ho + oy) * wo
                                    for block in 0..<padded.blocks {
                                        let ox = block * 8
                                        let (best, at) = eightWindows(scratch, paddedWidth: padded.width, width: w,
                                                                      outputRow: oy, firstOutput: ox, geometry: g,
                                                                      laneColumns: laneColumns,
                                                                      starts: block == 0 ? firstBlockStarts : nil)
                                        if ox + 8 <= wo {
                                            UnsafeMutableRawPointer(yp.baseAddress! + output + ox).storeBytes(of: best, as: SIMD8<Float>.self)
                                            UnsafeMutableRawPointer(ap.baseAddress! + output + ox).storeBytes(of: at, as: SIMD8<Int32>.self)
                                        } else {
                                            for lane in 0..<(wo - ox) {
                                                yp[output + ox + lane] = best[lane]
                                                ap[output + ox + lane] = at[lane]
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, argmax)
    }

    /// The maxima alone (inference) of `planes` planes of `height` x `width` at `source`, one after
    /// another, into planes `planeStride` floats apart at `target`, on the calling thread: what a
    /// convolution that pools its own output (`ConvolutionEpilogue.pooling`) calls on each image.
    public static func maxima(_ source: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int, geometry g: PoolingGeometry,
                              into target: UnsafeMutablePointer<Float>, planeStride: Int) {
        let ho = g.outputLength(h), wo = g.outputLength(w)
        let padded = PaddedPlane(height: h, width: w, geometry: g)
        padded.withScratch { scratch in
            for p in 0..<planes {
                padded.copy(source + p * h * w, into: scratch)
                for oy in 0..<ho {
                    let output = target + p * planeStride + oy * wo
                    for block in 0..<padded.blocks {
                        let ox = block * 8
                        let best = eightMaxima(scratch, paddedWidth: padded.width, outputRow: oy, firstOutput: ox, geometry: g)
                        if ox + 8 <= wo {
                            UnsafeMutableRawPointer(output + ox).storeBytes(of: best, as: SIMD8<Float>.self)
                        } else {
                            for lane in 0..<(wo - ox) { output[ox + lane] = best[lane] }
                        }
                    }
                }
            }
        }
    }

    /// A plane bordered with −∞ (padding, ceil mode's overhang, and slack for the last lanes' loads)
    /// that each input plane is copied into before its windows are read.
    private struct PaddedPlane {
        let width: Int, height: Int, blocks: Int, padding: Int, rowsCopied: Int, columnsCopied: Int, sourceWidth: Int

        init(height h: Int, width w: Int, geometry g: PoolingGeometry) {
            let ho = g.outputLength(h), wo = g.outputLength(w)
            blocks = (wo + 7) / 8
            // Wide enough for the last block's widest load (sixteen floats from its last window column).
            width = (blocks * 8 - 1) * g.stride + g.kernel + 16
            height = (ho - 1) * g.stride + g.kernel
            padding = g.padding
            rowsCopied = max(0, min(h, height - g.padding))
            columnsCopied = max(0, min(w, width - g.padding))
            sourceWidth = w
        }

        /// `body` with a plane of −∞, whose border cells stay −∞ through every `copy`.
        func withScratch(_ body: (UnsafeMutablePointer<Float>) -> Void) {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: height * width) { buffer in
                buffer.initialize(repeating: -.infinity)
                body(buffer.baseAddress!)
            }
        }

        func copy(_ plane: UnsafePointer<Float>, into scratch: UnsafeMutablePointer<Float>) {
            let origin = scratch + padding * width + padding
            for row in 0..<rowsCopied {
                (origin + row * width).update(from: plane + row * sourceWidth, count: columnsCopied)
            }
        }
    }

    /// Eight neighbouring windows of one output row in the −∞-bordered plane, one per lane, with the
    /// indices in the unpadded plane. A border cell never replaces the running maximum (−∞ is not
    /// larger than anything), so every index recorded is a real pixel's; a window of nothing larger
    /// than −∞ keeps its first real pixel, as the plain loop does.
    @inline(__always)
    private static func eightWindows(_ padded: UnsafePointer<Float>, paddedWidth: Int, width w: Int, outputRow oy: Int,
                                     firstOutput ox: Int, geometry g: PoolingGeometry,
                                     laneColumns: SIMD8<Int32>, starts: SIMD8<Int32>?) -> (SIMD8<Float>, SIMD8<Int32>) {
        let s = g.stride, pad = g.padding
        // Unpadded column of each lane's window start; `starts` clamps them to the image's first column.
        let columns = laneColumns &+ Int32(ox * s - pad)
        var at = (starts ?? columns) &+ Int32(max(oy * s - pad, 0) * w)
        var best = SIMD8<Float>(repeating: -.infinity)
        for ky in 0..<g.kernel {
            let rowIndex = Int32((oy * s + ky - pad) * w)
            let row = padded + (oy * s + ky) * paddedWidth + ox * s
            for kx in 0..<g.kernel {
                let value = lanes(row + kx, stride: s)
                // Replace where larger, or NaN, unless this lane already holds a NaN.
                let replace = (value .> best .| value .!= value) .& (best .== best)
                best.replace(with: value, where: replace)
                // A Float mask is stored as Int32 lanes: the same mask selects the indices.
                at.replace(with: columns &+ (rowIndex + Int32(kx)), where: unsafeBitCast(replace, to: SIMDMask<SIMD8<Int32>>.self))
            }
        }
        return (best, at)
    }

    /// first[0], first[s], ..., first[7·s]: one cell of eight windows s apart.
    @inline(__always)
    private static func lanes(_ first: UnsafePointer<Float>, stride s: Int) -> SIMD8<Float> {
        switch s {
        case 1: UnsafeRawPointer(first).loadUnaligned(as: SIMD8<Float>.self)
        case 2: UnsafeRawPointer(first).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        default: SIMD8<Float>((0..<8).lazy.map { first[$0 * s] })
        }
    }

    /// `eightWindows`' maxima alone (inference: no index to keep).
    @inline(__always)
    private static func eightMaxima(_ padded: UnsafePointer<Float>, paddedWidth: Int, outputRow oy: Int, firstOutput ox: Int,
                                    geometry g: PoolingGeometry) -> SIMD8<Float> {
        let s = g.stride
        var best = SIMD8<Float>(repeating: -.infinity)
        for ky in 0..<g.kernel {
            let row = padded + (oy * s + ky) * paddedWidth + ox * s
            for kx in 0..<g.kernel {
                let value = lanes(row + kx, stride: s)
                best.replace(with: value, where: (value .> best .| value .!= value) .& (best .== best))
            }
        }
        return best
    }

    public static func backward(_ dy: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        var dx = Tensor(shape: inputShape)
        let planes = inputShape[0] * inputShape[1], planeSize = inputShape[2] * inputShape[3]
        let outPlane = dy.shape[2] * dy.shape[3]
        dy.scalars.withUnsafeBufferPointer { dyp in
            argmax.withUnsafeBufferPointer { ap in
                dx.scalars.withUnsafeMutableBufferPointer { dxp in
                    Parallel.forEachChunk(planes, costPerItem: outPlane) { range in
                        for p in range {
                            for o in (p * outPlane)..<((p + 1) * outPlane) { dxp[p * planeSize + Int(ap[o])] += dyp[o] }
                        }
                    }
                }
            }
        }
        return dx
    }
}

/// Average pooling over [C, N, H, W], PyTorch's divisor rule: with `countIncludePad` the divisor
/// counts padding cells but not the overhang a ceil-mode window has past the padded input.
public enum AveragePooling {
    public static func forward(_ x: Tensor, geometry g: PoolingGeometry, countIncludePad: Bool = true) -> Tensor {
        let h = x.shape[2], w = x.shape[3]
        var y = Tensor(shape: [x.shape[0], x.shape[1], g.outputLength(h), g.outputLength(w)])
        walk(inputShape: x.shape, geometry: g, countIncludePad: countIncludePad) { p, o, y0, y1, x0, x1, scale in
            var sum: Float = 0
            x.scalars.withUnsafeBufferPointer { xp in
                let plane = xp.baseAddress! + p * h * w
                for iy in y0..<y1 { for ix in x0..<x1 { sum += plane[iy * w + ix] } }
            }
            y.scalars[o] = sum * scale
        }
        return y
    }

    public static func backward(_ dy: Tensor, inputShape: [Int], geometry g: PoolingGeometry, countIncludePad: Bool = true) -> Tensor {
        let h = inputShape[2], w = inputShape[3]
        var dx = Tensor(shape: inputShape)
        walk(inputShape: inputShape, geometry: g, countIncludePad: countIncludePad) { p, o, y0, y1, x0, x1, scale in
            let share = dy.scalars[o] * scale
            dx.scalars.withUnsafeMutableBufferPointer { dxp in
                let plane = dxp.baseAddress! + p * h * w
                for iy in y0..<y1 { for ix in x0..<x1 { plane[iy * w + ix] += share } }
            }
        }
        return dx
    }

    /// Visits every output cell: (plane, output index, clipped window rows and columns, 1/divisor).
    /// Serial: pooling layers with averaging are small next to the convolutions around them.
    private static func walk(inputShape: [Int], geometry g: PoolingGeometry, countIncludePad: Bool,
                             _ body: (Int, Int, Int, Int, Int, Int, Float) -> Void) {
        let planes = inputShape[0] * inputShape[1], h = inputShape[2], w = inputShape[3]
        let ho = g.outputLength(h), wo = g.outputLength(w)
        for p in 0..<planes {
            for oy in 0..<ho {
                let start = oy * g.stride - g.padding
                let paddedEnd = min(start + g.kernel, h + g.padding)
                let y0 = max(start, 0), y1 = min(paddedEnd, h)
                for ox in 0..<wo {
                    let startX = ox * g.stride - g.padding
                    let paddedEndX = min(startX + g.kernel, w + g.padding)
                    let x0 = max(startX, 0), x1 = min(paddedEndX, w)
                    let divisor = countIncludePad ? (paddedEnd - start) * (paddedEndX - startX) : (y1 - y0) * (x1 - x0)
                    body(p, (p * ho + oy) * wo + ox, y0, y1, x0, x1, 1 / Float(max(divisor, 1)))
                }
            }
        }
    }
}

/// Adaptive average pooling to a fixed [outH, outW] (PyTorch's bins: start = ⌊i·H/out⌋,
/// end = ⌈(i+1)·H/out⌉), so AlexNet's and VGG's heads work at any input size. Global average
/// pooling is the 1x1 case.
public enum AdaptiveAveragePooling {
    public static func forward(_ x: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3]
        var y = Tensor(shape: [x.shape[0], x.shape[1], outputHeight, outputWidth])
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                Parallel.forEachChunk(planes, costPerItem: h * w) { range in
                    for p in range {
                        let plane = xp.baseAddress! + p * h * w
                        for oy in 0..<outputHeight {
                            let y0 = oy * h / outputHeight, y1 = ((oy + 1) * h + outputHeight - 1) / outputHeight
                            for ox in 0..<outputWidth {
                                let x0 = ox * w / outputWidth, x1 = ((ox + 1) * w + outputWidth - 1) / outputWidth
                                var sum: Float = 0
                                for iy in y0..<y1 { for ix in x0..<x1 { sum += plane[iy * w + ix] } }
                                yp[(p * outputHeight + oy) * outputWidth + ox] = sum / Float((y1 - y0) * (x1 - x0))
                            }
                        }
                    }
                }
            }
        }
        return y
    }

    public static func backward(_ dy: Tensor, inputShape: [Int]) -> Tensor {
        let planes = inputShape[0] * inputShape[1], h = inputShape[2], w = inputShape[3]
        let outputHeight = dy.shape[2], outputWidth = dy.shape[3]
        var dx = Tensor(shape: inputShape)
        dy.scalars.withUnsafeBufferPointer { dyp in
            dx.scalars.withUnsafeMutableBufferPointer { dxp in
                Parallel.forEachChunk(planes, costPerItem: h * w) { range in
                    for p in range {
                        let plane = dxp.baseAddress! + p * h * w
                        for oy in 0..<outputHeight {
                            let y0 = oy * h / outputHeight, y1 = ((oy + 1) * h + outputHeight - 1) / outputHeight
                            for ox in 0..<outputWidth {
                                let x0 = ox * w / outputWidth, x1 = ((ox + 1) * w + outputWidth - 1) / outputWidth
                                let share = dyp[(p * outputHeight + oy) * outputWidth + ox] / Float((y1 - y0) * (x1 - x0))
                                for iy in y0..<y1 { for ix in x0..<x1 { plane[iy * w + ix] += share } }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
