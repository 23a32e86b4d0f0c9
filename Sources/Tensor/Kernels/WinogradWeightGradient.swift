/// The weight gradient of a Winograd F(2x2, 3x3) convolution, the adjoint of `Winograd.forward`:
/// y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is linear in g, so
///   dM[16, Co, T] = A dy Aᵀ        per (co, tile): the 2x2 output gradient to 4x4
///   V[16, Ci, T]  = Bᵀ d B         as in the forward pass
///   dU[ξ] = dM[ξ] × V[ξ]ᵀ          16 GEMMs [Co, T] x [T, Ci], summed over the tile groups
///   dg += Gᵀ dU G                  per (co, ci): 4x4 back to the 3x3 weight
/// The GEMMs do 16 multiply-adds per (co, ci, tile) against the unfolded path's 36, and need no
/// 9x unfolded input. Tiles past an odd output edge get a zero gradient there, as the forward pass
/// drops those outputs.
extension Winograd {
    public static func accumulateWeightGradient(_ dy: Tensor, input x: Tensor, geometry g: ConvolutionGeometry,
                                                into weightGradient: inout Tensor, workspace: inout [Float]) {
        let ci = g.inChannels, co = g.outChannels
        let n = x.shape[1], h = x.shape[2], w = x.shape[3]
        let (ho, wo) = g.outputSize(height: h, width: w)
        precondition(dy.shape == [co, n, ho, wo], "conv output gradient \(dy.shape)")
        let tilesHigh = (ho + 1) / 2, tilesWide = (wo + 1) / 2, tilesPerImage = tilesHigh * tilesWide
        let imagesPerGroup = max(1, min(n, targetGroupFloats / max(1, 16 * (ci + co) * tilesPerImage)))
        let groupTiles = imagesPerGroup * tilesPerImage
        let sums = 16 * co * ci
        let needed = sums + 16 * (ci + co) * groupTiles
        if workspace.count < needed { workspace = [Float](repeating: 0, count: needed) }
        let plane = ho * wo
        workspace.withUnsafeMutableBufferPointer { buffer in
            let du = buffer.baseAddress!, v = du + sums, dm = v + 16 * ci * groupTiles
            x.scalars.withUnsafeBufferPointer { xp in
                dy.scalars.withUnsafeBufferPointer { dyp in
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
                        Parallel.forEachChunk(co, costPerItem: tiles * 32) { channels in
                            for o in channels {
                                transformOutputGradient(dyp.baseAddress! + (o * n + first) * plane, images: count, height: ho,
                                                        width: wo, tilesHigh: tilesHigh, tilesWide: tilesWide,
                                                        into: dm + o * tiles, stride: co * tiles)
                            }
                        }
                        for xi in 0..<16 {
                            BLAS.gemm(transposeB: true, m: co, n: ci, k: tiles, a: dm + xi * co * tiles, lda: tiles,
                                      b: v + xi * ci * tiles, ldb: tiles, beta: first == 0 ? 0 : 1, c: du + xi * co * ci, ldc: ci)
                        }
                        first += count
                    }
                }
            }
            weightGradient.scalars.withUnsafeMutableBufferPointer { dw in
                accumulateWeightTransform(UnsafePointer(du), pairs: co * ci, into: dw.baseAddress!)
            }
        }
    }

    /// dg[pair] += Gᵀ dU[·, pair] G for every (co, ci) pair (dU at `du + ξ·pairs + pair`);
    /// Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]].
    static func accumulateWeightTransform(_ du: UnsafePointer<Float>, pairs: Int, into dw: UnsafeMutablePointer<Float>) {
        Parallel.forEachChunk(pairs, costPerItem: 64) { range in
            for pair in range {
                @inline(__always) func at(_ xi: Int) -> Float { du[xi * pairs + pair] }
                // Gᵀ on the columns of each of the 4 rows: (u₀ + ½(u₁ + u₂), ½(u₁ − u₂), ½(u₁ + u₂) + u₃).
                @inline(__always) func reduce(_ a: Float, _ b: Float, _ c: Float, _ d: Float) -> (Float, Float, Float) {
                    (a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d)
                }
                let r0 = reduce(at(0), at(1), at(2), at(3)), r1 = reduce(at(4), at(5), at(6), at(7))
                let r2 = reduce(at(8), at(9), at(10), at(11)), r3 = reduce(at(12), at(13), at(14), at(15))
                let g = dw + pair * 9
                // Then on the rows.
                let top = reduce(r0.0, r1.0, r2.0, r3.0), middle = reduce(r0.1, r1.1, r2.1, r3.1)
                let bottom = reduce(r0.2, r1.2, r2.2, r3.2)
                g[0] += top.0; g[3] += top.1; g[6] += top.2
                g[1] += middle.0; g[4] += middle.1; g[7] += middle.2
                g[2] += bottom.0; g[5] += bottom.1; g[8] += bottom.2
            }
        }
    }

    /// dM[ξ, t] = (A dy Aᵀ)[ξ] for every tile t of one output channel (output planes at `source`,
    /// tiles written at `into + ξ·stride + t`); A = [[1, 0], [1, 1], [1, −1], [0, −1]], so a row
    /// (a, b) becomes (a, a + b, a − b, −b), and likewise down the columns.
    @inline(__always)
    static func transformOutputGradient(_ source: UnsafePointer<Float>, images: Int, height ho: Int, width wo: Int,
                                        tilesHigh: Int, tilesWide: Int, into dm: UnsafeMutablePointer<Float>, stride: Int) {
        var t = 0
        for image in 0..<images {
            let plane = source + image * ho * wo
            for ty in 0..<tilesHigh {
                let oy = 2 * ty
                var tx = 0
                while tx < tilesWide {
                    let ox = 2 * tx
                    // Eight tiles side by side when their 2 x 16 gradients are all inside.
                    if tx + 8 <= tilesWide && ox + 16 <= wo && oy + 2 <= ho {
                        gradientEightTiles(plane + oy * wo + ox, width: wo, into: dm + t, stride: stride)
                        tx += 8
                        t += 8
                        continue
                    }
                    @inline(__always) func value(_ y: Int, _ x: Int) -> Float { y < ho && x < wo ? plane[y * wo + x] : 0 }
                    let y00 = value(oy, ox), y01 = value(oy, ox + 1), y10 = value(oy + 1, ox), y11 = value(oy + 1, ox + 1)
                    @inline(__always) func row(_ r: Int, _ a: Float, _ b: Float) {
                        dm[(r * 4) * stride + t] = a
                        dm[(r * 4 + 1) * stride + t] = a + b
                        dm[(r * 4 + 2) * stride + t] = a - b
                        dm[(r * 4 + 3) * stride + t] = -b
                    }
                    row(0, y00, y01)
                    row(1, y00 + y10, y01 + y11)
                    row(2, y00 - y10, y01 - y11)
                    row(3, -y10, -y11)
                    tx += 1
                    t += 1
                }
            }
        }
    }

    /// Eight horizontally adjacent tiles at once: each gradient row's 16 values hold the tiles' left
    /// (even lanes) and right (odd lanes) columns.
    @inline(__always)
    static func gradientEightTiles(_ dy: UnsafePointer<Float>, width wo: Int, into dm: UnsafeMutablePointer<Float>, stride: Int) {
        typealias Lanes = SIMD8<Float>
        let top = UnsafeRawPointer(dy).loadUnaligned(as: SIMD16<Float>.self)
        let bottom = UnsafeRawPointer(dy + wo).loadUnaligned(as: SIMD16<Float>.self)
        let y00 = top.evenHalf, y01 = top.oddHalf, y10 = bottom.evenHalf, y11 = bottom.oddHalf
        @inline(__always) func store(_ value: Lanes, _ xi: Int) {
            UnsafeMutableRawPointer(dm + xi * stride).storeBytes(of: value, as: Lanes.self)
        }
        @inline(__always) func row(_ r: Int, _ a: Lanes, _ b: Lanes) {
            store(a, r * 4); store(a + b, r * 4 + 1); store(a - b, r * 4 + 2); store(-b, r * 4 + 3)
        }
        row(0, y00, y01)
        row(1, y00 + y10, y01 + y11)
        row(2, y00 - y10, y01 - y11)
        row(3, -y10, -y11)
    }
}
