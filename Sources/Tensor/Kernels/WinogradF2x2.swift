/// Winograd F(2x2, 3x3): 4x4 input tiles, 2x2 output tiles, 16 GEMMs (see `Winograd` for the
/// shapes). The transforms are additions and halves; eight horizontally adjacent tiles go through
/// them at once in SIMD lanes, edge tiles one at a time.
enum WinogradF2x2: WinogradScheme {
    static let outputTile = 2

    static func transformWeights(_ weights: UnsafePointer<Float>, pairs: Range<Int>, into u: UnsafeMutablePointer<Float>, stride: Int) {
        for pair in pairs { transformWeight(weights + pair * 9, into: u + pair, stride: stride) }
    }

    /// G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
    static func transformWeight(_ g: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, stride: Int) {
        // G g, row by row (each a row of 3): g₀, ½(g₀ + g₁ + g₂), ½(g₀ − g₁ + g₂), g₂.
        let g0 = (g[0], g[1], g[2]), g1 = (g[3], g[4], g[5]), g2 = (g[6], g[7], g[8])
        // (G g) Gᵀ: the same on each row.
        func emit(_ row: Int, _ a: Float, _ b: Float, _ c: Float) {
            u[(row * 4 + 0) * stride] = a
            u[(row * 4 + 1) * stride] = 0.5 * (a + b + c)
            u[(row * 4 + 2) * stride] = 0.5 * (a - b + c)
            u[(row * 4 + 3) * stride] = c
        }
        emit(0, g0.0, g0.1, g0.2)
        emit(1, 0.5 * (g0.0 + g1.0 + g2.0), 0.5 * (g0.1 + g1.1 + g2.1), 0.5 * (g0.2 + g1.2 + g2.2))
        emit(2, 0.5 * (g0.0 - g1.0 + g2.0), 0.5 * (g0.1 - g1.1 + g2.1), 0.5 * (g0.2 - g1.2 + g2.2))
        emit(3, g2.0, g2.1, g2.2)
    }

    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
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

    /// B = (Bᵀ)ᵀ: (u₀, u₁, u₂, u₃) becomes (u₀, u₁ − u₂ + u₃, u₁ + u₂ − u₀, −u₃), down the columns of
    /// each tile's dV and then along its rows; the 4x4 blocks, two apart, are added into the planes.
    static func transformInputGradient(_ dv: UnsafePointer<Float>, stride: Int, images: Int, height h: Int, width w: Int,
                                       padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                                       into dx: UnsafeMutablePointer<Float>) {
        @inline(__always) func adjoint(_ u: (Float, Float, Float, Float)) -> (Float, Float, Float, Float) {
            (u.0, u.1 - u.2 + u.3, u.1 + u.2 - u.0, -u.3)
        }
        withTilePlanes(images: images, height: h, width: w, padding: padding, tilesHigh: tilesHigh, tilesWide: tilesWide,
                       into: dx) { planes, planeWidth, planeSize in
            var t = 0
            for image in 0..<images {
                for ty in 0..<tilesHigh {
                    for tx in 0..<tilesWide {
                        @inline(__always) func at(_ xi: Int) -> Float { dv[xi * stride + t] }
                        let c0 = adjoint((at(0), at(4), at(8), at(12))), c1 = adjoint((at(1), at(5), at(9), at(13)))
                        let c2 = adjoint((at(2), at(6), at(10), at(14))), c3 = adjoint((at(3), at(7), at(11), at(15)))
                        let block = planes + image * planeSize + 2 * ty * planeWidth + 2 * tx
                        @inline(__always) func add(_ r: Int, _ row: (Float, Float, Float, Float)) {
                            let values = adjoint(row), target = block + r * planeWidth
                            target[0] += values.0; target[1] += values.1; target[2] += values.2; target[3] += values.3
                        }
                        add(0, (c0.0, c1.0, c2.0, c3.0)); add(1, (c0.1, c1.1, c2.1, c3.1))
                        add(2, (c0.2, c1.2, c2.2, c3.2)); add(3, (c0.3, c1.3, c2.3, c3.3))
                        t += 1
                    }
                }
            }
        }
    }

    /// Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]. Odd sizes drop the tiles' last row or column.
    @inline(__always)
    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, images: Int, height ho: Int, width wo: Int,
                                tilesHigh: Int, tilesWide: Int, into y: UnsafeMutablePointer<Float>) {
        forEachOutputTile(images: images, height: ho, width: wo, tilesHigh: tilesHigh, tilesWide: tilesWide) { t, offset in
            outputEightTiles(m + t, stride: stride, bias: bias, into: y + offset, width: wo)
        } one: { t, offset, oy, ox in
            @inline(__always) func at(_ xi: Int) -> Float { m[xi * stride + t] }
            // Aᵀ m: rows 0 + 1 + 2 and 1 − 2 − 3.
            let s0 = (at(0) + at(4) + at(8), at(1) + at(5) + at(9), at(2) + at(6) + at(10), at(3) + at(7) + at(11))
            let s1 = (at(4) - at(8) - at(12), at(5) - at(9) - at(13), at(6) - at(10) - at(14), at(7) - at(11) - at(15))
            let row0 = y + offset
            row0[0] = s0.0 + s0.1 + s0.2 + bias
            if ox + 1 < wo { row0[1] = s0.1 - s0.2 - s0.3 + bias }
            if oy + 1 < ho {
                let row1 = row0 + wo
                row1[0] = s1.0 + s1.1 + s1.2 + bias
                if ox + 1 < wo { row1[1] = s1.1 - s1.2 - s1.3 + bias }
            }
        }
    }

    /// The 2x2 tiles over `images` output planes of ho x wo, in tile order t: `eight(t, offset)` for
    /// eight side by side whose 2 x 16 outputs all lie inside, else `one(t, offset, oy, ox)` (offset:
    /// of the tiles' top-left output from the first plane).
    @inline(__always)
    static func forEachOutputTile(images: Int, height ho: Int, width wo: Int, tilesHigh: Int, tilesWide: Int,
                                  eight: (Int, Int) -> Void, one: (Int, Int, Int, Int) -> Void) {
        var t = 0
        for image in 0..<images {
            for ty in 0..<tilesHigh {
                let oy = 2 * ty
                var tx = 0
                while tx < tilesWide {
                    let ox = 2 * tx, offset = (image * ho + oy) * wo + ox
                    if tx + 8 <= tilesWide && ox + 16 <= wo && oy + 2 <= ho {
                        eight(t, offset)
                        tx += 8
                        t += 8
                    } else {
                        one(t, offset, oy, ox)
                        tx += 1
                        t += 1
                    }
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

    /// Gᵀ = [[1, ½, ½, 0], [0, ½, −½, 0], [0, ½, ½, 1]].
    static func accumulateWeight(_ du: UnsafePointer<Float>, stride: Int, into g: UnsafeMutablePointer<Float>) {
        @inline(__always) func at(_ xi: Int) -> Float { du[xi * stride] }
        // Gᵀ on the columns of each of the 4 rows: (u₀ + ½(u₁ + u₂), ½(u₁ − u₂), ½(u₁ + u₂) + u₃).
        @inline(__always) func reduce(_ a: Float, _ b: Float, _ c: Float, _ d: Float) -> (Float, Float, Float) {
            (a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d)
        }
        let r0 = reduce(at(0), at(1), at(2), at(3)), r1 = reduce(at(4), at(5), at(6), at(7))
        let r2 = reduce(at(8), at(9), at(10), at(11)), r3 = reduce(at(12), at(13), at(14), at(15))
        // Then on the rows.
        let left = reduce(r0.0, r1.0, r2.0, r3.0), middle = reduce(r0.1, r1.1, r2.1, r3.1)
        let right = reduce(r0.2, r1.2, r2.2, r3.2)
        g[0] += left.0; g[3] += left.1; g[6] += left.2
        g[1] += middle.0; g[4] += middle.1; g[7] += middle.2
        g[2] += right.0; g[5] += right.1; g[8] += right.2
    }

    /// A = [[1, 0], [1, 1], [1, −1], [0, −1]]: a row (a, b) becomes (a, a + b, a − b, −b), and
    /// likewise down the columns.
    @inline(__always)
    static func transformOutputGradient(_ source: UnsafePointer<Float>, images: Int, height ho: Int, width wo: Int,
                                        tilesHigh: Int, tilesWide: Int, into dm: UnsafeMutablePointer<Float>, stride: Int) {
        forEachOutputTile(images: images, height: ho, width: wo, tilesHigh: tilesHigh, tilesWide: tilesWide) { t, offset in
            gradientEightTiles(source + offset, width: wo, into: dm + t, stride: stride)
        } one: { t, offset, oy, ox in
            @inline(__always) func value(_ dy: Int, _ dx: Int) -> Float {
                oy + dy < ho && ox + dx < wo ? source[offset + dy * wo + dx] : 0
            }
            let y00 = value(0, 0), y01 = value(0, 1), y10 = value(1, 0), y11 = value(1, 1)
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
