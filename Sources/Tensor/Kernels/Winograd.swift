/// Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions (Lavin and Gray, "Fast Algorithms for
/// Convolutional Neural Networks", 2016): each 2x2 block of output comes from a 4x4 block of input
/// with 16 multiplications per (input, output) channel pair instead of 36, so 2.25x fewer than the
/// direct GEMM, at the price of three cheap transforms (additions only, and halves for the weights).
///
/// Shapes, in the engine's feature-major layout, for T tiles (N images x ⌈Ho/2⌉ x ⌈Wo/2⌉):
///   U[16, Co, Ci] = G g Gᵀ         per (co, ci): the 3x3 weight g to 4x4
///   V[16, Ci, T]  = Bᵀ d B         per (ci, tile): the 4x4 input block d (zero outside the image)
///   M[ξ] = U[ξ] × V[ξ]             16 GEMMs [Co, Ci] x [Ci, T]
///   y[Co, N, Ho, Wo] ← Aᵀ m A + b  per (co, tile): the 4x4 block m of M to 2x2 of output
/// Tiles are processed in groups sized so V and M stay near the cache (`targetGroupFloats`).
/// Transforms run on every core (split by channel); the GEMMs on OpenBLAS's threads.
public enum Winograd {
    /// Off: every convolution takes the unfold + GEMM path (`canopy bench kernels` compares both).
    nonisolated(unsafe) public static var enabled = true
    /// Floats of V + M a group aims at (32 MB: a ResNet-18's layer3 at 128 px, batch 32, in one group).
    nonisolated(unsafe) public static var targetGroupFloats = 8 << 20
    /// Fewest channels each way, and fewest output pixels per image, for Winograd to be used.
    nonisolated(unsafe) public static var minimumChannels = 64
    nonisolated(unsafe) public static var minimumOutputPixels = 64

    /// 3x3, stride 1, padding at most 2, and where it measured faster than the direct path
    /// (`canopy bench kernels`, ResNet-18 at 128 px, batch 32, 2 threads, transforms eight tiles at a
    /// time): 256 channels on 8x8 maps 1.2x forward and 1.1x backward, 128 on 16x16 1.15x and 1.06x,
    /// 64 on 32x32 1.04x and 1.03x; 4x4 maps give the 16 GEMMs too few columns (no gain).
    public static func applies(to g: ConvolutionGeometry, outputPixels: Int) -> Bool {
        enabled && g.kernel == (3, 3) && g.stride == (1, 1) && g.padding.height <= 2 && g.padding.width <= 2
            && g.inChannels >= minimumChannels && g.outChannels >= minimumChannels && outputPixels >= minimumOutputPixels
    }

    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, geometry g: ConvolutionGeometry,
                               workspace: inout [Float]) -> Tensor {
        let ci = g.inChannels, co = g.outChannels
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (ho, wo) = g.outputSize(height: h, width: w)
        let tilesHigh = (ho + 1) / 2, tilesWide = (wo + 1) / 2, tilesPerImage = tilesHigh * tilesWide
        let imagesPerGroup = max(1, min(n, targetGroupFloats / max(1, 16 * (ci + co) * tilesPerImage)))
        let groupTiles = imagesPerGroup * tilesPerImage
        let u = transformedWeights(weight, inChannels: ci, outChannels: co)
        let needed = 16 * (ci + co) * groupTiles
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        let plane = ho * wo
        return Tensor(shape: [co, n, ho, wo]) { yp in
            x.scalars.withUnsafeBufferPointer { xp in
                u.withUnsafeBufferPointer { up in
                    workspace.withUnsafeMutableBufferPointer { buffer in
                        let v = buffer.baseAddress!, m = buffer.baseAddress! + 16 * ci * groupTiles
                        var first = 0
                        while first < n {
                            let count = min(imagesPerGroup, n - first), tiles = count * tilesPerImage
                            Parallel.forEachChunk(ci, costPerItem: tiles * 48) { channels in
                                for c in channels {
                                    transformInput(xp.baseAddress! + (c * n + first) * h * w, images: count, height: h, width: w,
                                                   padding: g.padding, tilesHigh: tilesHigh, tilesWide: tilesWide,
                                                   into: v + c * tiles, stride: ci * tiles)
                                }
                            }
                            for xi in 0..<16 {
                                BLAS.gemm(m: co, n: tiles, k: ci, a: up.baseAddress! + xi * co * ci, lda: ci,
                                          b: v + xi * ci * tiles, ldb: tiles, c: m + xi * co * tiles, ldc: tiles)
                            }
                            Parallel.forEachChunk(co, costPerItem: tiles * 32) { channels in
                                for o in channels {
                                    transformOutput(m + o * tiles, stride: co * tiles, bias: bias?.scalars[o] ?? 0,
                                                    images: count, height: ho, width: wo, tilesHigh: tilesHigh, tilesWide: tilesWide,
                                                    into: yp.baseAddress! + (o * n + first) * plane)
                                }
                            }
                            first += count
                        }
                    }
                }
            }
        }
    }

    /// U[ξ, co, ci] = (G g Gᵀ)[ξ], G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
    static func transformedWeights(_ weight: Tensor, inChannels ci: Int, outChannels co: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: 16 * co * ci) { u, initialized in
            weight.scalars.withUnsafeBufferPointer { wp in
                let pairs = co * ci
                Parallel.forEachChunk(pairs, costPerItem: 64) { range in
                    for pair in range {
                        let g = wp.baseAddress! + pair * 9
                        // G g, row by row (each a row of 3): g₀, ½(g₀ + g₁ + g₂), ½(g₀ − g₁ + g₂), g₂.
                        let g0 = (g[0], g[1], g[2]), g1 = (g[3], g[4], g[5]), g2 = (g[6], g[7], g[8])
                        // (G g) Gᵀ: the same on each row.
                        func emit(_ row: Int, _ a: Float, _ b: Float, _ c: Float) {
                            u[(row * 4 + 0) * pairs + pair] = a
                            u[(row * 4 + 1) * pairs + pair] = 0.5 * (a + b + c)
                            u[(row * 4 + 2) * pairs + pair] = 0.5 * (a - b + c)
                            u[(row * 4 + 3) * pairs + pair] = c
                        }
                        emit(0, g0.0, g0.1, g0.2)
                        emit(1, 0.5 * (g0.0 + g1.0 + g2.0), 0.5 * (g0.1 + g1.1 + g2.1), 0.5 * (g0.2 + g1.2 + g2.2))
                        emit(2, 0.5 * (g0.0 - g1.0 + g2.0), 0.5 * (g0.1 - g1.1 + g2.1), 0.5 * (g0.2 - g1.2 + g2.2))
                        emit(3, g2.0, g2.1, g2.2)
                    }
                }
            }
            initialized = 16 * co * ci
        }
    }

    /// V[ξ, t] = (Bᵀ d B)[ξ] for every tile t of one channel's images (input plane by plane at
    /// `source`, tiles written at `into + ξ·stride + t`); Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0],
    /// [0, −1, 1, 0], [0, 1, 0, −1]].
    @inline(__always)
    static func transformInput(_ source: UnsafePointer<Float>, images: Int, height h: Int, width w: Int,
                               padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int) {
        var t = 0
        for image in 0..<images {
            let plane = source + image * h * w
            for ty in 0..<tilesHigh {
                let top = 2 * ty - padding.height
                let rowsInside = top >= 0 && top + 4 <= h
                var tx = 0
                while tx < tilesWide {
                    let left = 2 * tx - padding.width
                    // Eight tiles side by side, when their 4 x 18 input block (and the widest load) is inside.
                    if rowsInside && tx + 8 <= tilesWide && left >= 0 && left + 19 <= w {
                        transformEightTiles(plane + top * w + left, width: w, into: v + t, stride: stride)
                        tx += 8
                        t += 8
                        continue
                    }
                    transformOneTile(plane, height: h, width: w, top: top, left: left, into: v + t, stride: stride)
                    tx += 1
                    t += 1
                }
            }
        }
    }

    /// Eight horizontally adjacent tiles at once, one SIMD lane each: row r's column c of tile k is
    /// `block[r·w + 2k + c]`, the even lanes of a 16-wide load at `block + r·w + c`.
    @inline(__always)
    static func transformEightTiles(_ block: UnsafePointer<Float>, width w: Int, into v: UnsafeMutablePointer<Float>, stride: Int) {
        typealias Lanes = SIMD8<Float>
        @inline(__always) func column(_ row: Int, _ c: Int) -> Lanes {
            UnsafeRawPointer(block + row * w + c).loadUnaligned(as: SIMD16<Float>.self).evenHalf
        }
        @inline(__always) func row(_ r: Int) -> (Lanes, Lanes, Lanes, Lanes) { (column(r, 0), column(r, 1), column(r, 2), column(r, 3)) }
        let d0 = row(0), d1 = row(1), d2 = row(2), d3 = row(3)
        // Bᵀ d: rows 0 − 2, 1 + 2, 2 − 1, 1 − 3.
        let r0 = (d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3)
        let r1 = (d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3)
        let r2 = (d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3)
        let r3 = (d1.0 - d3.0, d1.1 - d3.1, d1.2 - d3.2, d1.3 - d3.3)
        @inline(__always) func store(_ value: Lanes, _ xi: Int) {
            UnsafeMutableRawPointer(v + xi * stride).storeBytes(of: value, as: Lanes.self)
        }
        @inline(__always) func columns(_ r: (Lanes, Lanes, Lanes, Lanes), _ row: Int) {
            store(r.0 - r.2, row * 4); store(r.1 + r.2, row * 4 + 1); store(r.2 - r.1, row * 4 + 2); store(r.1 - r.3, row * 4 + 3)
        }
        columns(r0, 0); columns(r1, 1); columns(r2, 2); columns(r3, 3)
    }

    /// One tile, with the image's edges (zeros outside).
    @inline(__always)
    static func transformOneTile(_ plane: UnsafePointer<Float>, height h: Int, width w: Int, top: Int, left: Int,
                                 into v: UnsafeMutablePointer<Float>, stride: Int) {
        var d = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                 Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        withUnsafeMutableBytes(of: &d) { raw in
            let block = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for r in 0..<4 {
                let y = top + r
                for c in 0..<4 {
                    let x = left + c
                    block[r * 4 + c] = y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : 0
                }
            }
        }
        let r0 = (d.0 - d.8, d.1 - d.9, d.2 - d.10, d.3 - d.11)
        let r1 = (d.4 + d.8, d.5 + d.9, d.6 + d.10, d.7 + d.11)
        let r2 = (d.8 - d.4, d.9 - d.5, d.10 - d.6, d.11 - d.7)
        let r3 = (d.4 - d.12, d.5 - d.13, d.6 - d.14, d.7 - d.15)
        @inline(__always) func store(_ r: (Float, Float, Float, Float), _ row: Int) {
            v[(row * 4 + 0) * stride] = r.0 - r.2
            v[(row * 4 + 1) * stride] = r.1 + r.2
            v[(row * 4 + 2) * stride] = r.2 - r.1
            v[(row * 4 + 3) * stride] = r.1 - r.3
        }
        store(r0, 0); store(r1, 1); store(r2, 2); store(r3, 3)
    }

    /// y = Aᵀ m A + bias for every tile of one output channel (M at `m + ξ·stride + t`, output planes
    /// at `into`); Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]. Odd sizes drop the tiles' last row or column.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, images: Int, height ho: Int, width wo: Int,
                                tilesHigh: Int, tilesWide: Int, into y: UnsafeMutablePointer<Float>) {
        var t = 0
        for image in 0..<images {
            let plane = y + image * ho * wo
            for ty in 0..<tilesHigh {
                let oy = 2 * ty
                var tx = 0
                while tx < tilesWide {
                    let ox = 2 * tx
                    // Eight tiles side by side when their 2 x 16 outputs are all inside.
                    if tx + 8 <= tilesWide && ox + 16 <= wo && oy + 2 <= ho {
                        outputEightTiles(m + t, stride: stride, bias: bias, into: plane + oy * wo + ox, width: wo)
                        tx += 8
                        t += 8
                        continue
                    }
                    @inline(__always) func at(_ xi: Int) -> Float { m[xi * stride + t] }
                    // Aᵀ m: rows 0 + 1 + 2 and 1 − 2 − 3.
                    let s0 = (at(0) + at(4) + at(8), at(1) + at(5) + at(9), at(2) + at(6) + at(10), at(3) + at(7) + at(11))
                    let s1 = (at(4) - at(8) - at(12), at(5) - at(9) - at(13), at(6) - at(10) - at(14), at(7) - at(11) - at(15))
                    let row0 = plane + oy * wo + ox
                    row0[0] = s0.0 + s0.1 + s0.2 + bias
                    if ox + 1 < wo { row0[1] = s0.1 - s0.2 - s0.3 + bias }
                    if oy + 1 < ho {
                        let row1 = row0 + wo
                        row1[0] = s1.0 + s1.1 + s1.2 + bias
                        if ox + 1 < wo { row1[1] = s1.1 - s1.2 - s1.3 + bias }
                    }
                    tx += 1
                    t += 1
                }
            }
        }
    }

    /// Eight horizontally adjacent tiles at once: M's 16 rows for tiles t..t+7 are contiguous; each
    /// output row's 16 values interleave the tiles' left (even lanes) and right (odd lanes) columns.
    @inline(__always)
    static func outputEightTiles(_ m: UnsafePointer<Float>, stride: Int, bias: Float, into y: UnsafeMutablePointer<Float>, width wo: Int) {
        typealias Lanes = SIMD8<Float>
        @inline(__always) func at(_ xi: Int) -> Lanes { UnsafeRawPointer(m + xi * stride).loadUnaligned(as: Lanes.self) }
        let s0 = (at(0) + at(4) + at(8), at(1) + at(5) + at(9), at(2) + at(6) + at(10), at(3) + at(7) + at(11))
        let s1 = (at(4) - at(8) - at(12), at(5) - at(9) - at(13), at(6) - at(10) - at(14), at(7) - at(11) - at(15))
        let b = Lanes(repeating: bias)
        var row = SIMD16<Float>()
        row.evenHalf = s0.0 + s0.1 + s0.2 + b
        row.oddHalf = s0.1 - s0.2 - s0.3 + b
        UnsafeMutableRawPointer(y).storeBytes(of: row, as: SIMD16<Float>.self)
        row.evenHalf = s1.0 + s1.1 + s1.2 + b
        row.oddHalf = s1.1 - s1.2 - s1.3 + b
        UnsafeMutableRawPointer(y + wo).storeBytes(of: row, as: SIMD16<Float>.self)
    }
}
