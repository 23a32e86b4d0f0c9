/// Winograd F(4x4, 3x3): 6x6 input tiles, 4x4 output tiles, 36 GEMMs (see `Winograd` for the
/// shapes), with the matrices of Lavin and Gray (interpolation points 0, ±1, ±2, ∞):
///
///   Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
///         [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
///   G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
///   Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
///
/// Input and output-gradient tiles are transformed a row of tiles at a time: the tile row's input
/// rows are copied into a zero-bordered strip (the padding and the overhang), transformed down the
/// columns with the strip's width in SIMD lanes, then across, eight tiles per SIMD lane group (a
/// stride-4 gather of a 32-wide load). Output tiles are read eight at a time in tile order, which is
/// contiguous in M whatever the map's size.
enum WinogradF4x4: WinogradScheme {
    static let outputTile = 4
    typealias Lanes = SIMD8<Float>
    typealias Six = (Lanes, Lanes, Lanes, Lanes, Lanes, Lanes)
    typealias Four = (Lanes, Lanes, Lanes, Lanes)

    // MARK: The one-dimensional transforms, on eight lanes.

    /// Bᵀ d.
    @inline(__always)
    static func inputRow(_ d: Six) -> Six {
        let (d0, d1, d2, d3, d4, d5) = d
        return (4 * d0 - 5 * d2 + d4,
                -4 * (d1 + d2) + d3 + d4,
                4 * (d1 - d2) - d3 + d4,
                2 * (d3 - d1) - d2 + d4,
                2 * (d1 - d3) - d2 + d4,
                4 * d1 - 5 * d3 + d5)
    }

    /// Aᵀ m.
    @inline(__always)
    static func outputRow(_ m: Six) -> Four {
        let (m0, m1, m2, m3, m4, m5) = m
        let sum12 = m1 + m2, difference12 = m1 - m2, sum34 = m3 + m4, difference34 = m3 - m4
        return (m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, difference12 + 8 * difference34 + m5)
    }

    /// A dy, the adjoint of `outputRow`.
    @inline(__always)
    static func gradientRow(_ dy: Four) -> Six {
        let (y0, y1, y2, y3) = dy
        let even = y0 + y2, odd = y1 + y3, evenScaled = y0 + 4 * y2, oddScaled = 2 * y1 + 8 * y3
        return (y0, even + odd, even - odd, evenScaled + oddScaled, evenScaled - oddScaled, y3)
    }

    // MARK: Weights.

    private static let sixth: Float = 1 / 6, twelfth: Float = 1 / 12, twentyFourth: Float = 1 / 24

    /// Eight pairs at a time, one per lane: a pair's nine weights are gathered across the lanes, and each
    /// of the 36 results is one eight-wide store (pairs are adjacent in U).
    static func transformWeights(_ source: WeightSource, pairs: Range<Int>, into u: UnsafeMutablePointer<Float>, stride: Int) {
        let weights = source.base
        var pair = pairs.lowerBound
        while pair < pairs.upperBound {
            let count = min(8, pairs.upperBound - pair)
            // Two loops, so the stored order keeps its plain strided loads.
            if source.flippedTransposed {
                var offsets = SIMD8<Int>()
                for lane in 0..<count { offsets[lane] = source.offset(pair + lane) + 8 }
                transformEight(at: pair, count: count, into: u, stride: stride) { k in
                    var lanes = Lanes()
                    for lane in 0..<count { lanes[lane] = weights[offsets[lane] - k] }
                    return lanes
                }
            } else {
                transformEight(at: pair, count: count, into: u, stride: stride) { k in
                    var lanes = Lanes()
                    for lane in 0..<count { lanes[lane] = weights[(pair + lane) * 9 + k] }
                    return lanes
                }
            }
            pair += count
        }
    }

    /// U for the `count` (at most eight) pairs from `pair`, tap k of each given across the lanes by `weight(k)`.
    @inline(__always)
    private static func transformEight(at pair: Int, count: Int, into u: UnsafeMutablePointer<Float>, stride: Int,
                                       _ weight: (Int) -> Lanes) {
        // G g down each of the three columns, then G along each of the six rows.
        let c0 = expand(weight(0), weight(3), weight(6)), c1 = expand(weight(1), weight(4), weight(7))
        let c2 = expand(weight(2), weight(5), weight(8))
        @inline(__always) func emit(_ row: Int, _ a: Lanes, _ b: Lanes, _ c: Lanes) {
            let r = expand(a, b, c), target = u + row * 6 * stride + pair
            store(r.0, at: target, count: count); store(r.1, at: target + stride, count: count)
            store(r.2, at: target + 2 * stride, count: count); store(r.3, at: target + 3 * stride, count: count)
            store(r.4, at: target + 4 * stride, count: count); store(r.5, at: target + 5 * stride, count: count)
        }
        emit(0, c0.0, c1.0, c2.0); emit(1, c0.1, c1.1, c2.1); emit(2, c0.2, c1.2, c2.2)
        emit(3, c0.3, c1.3, c2.3); emit(4, c0.4, c1.4, c2.4); emit(5, c0.5, c1.5, c2.5)
    }

    /// G applied to three values (multiplications by the reciprocals: a division costs ten times more).
    @inline(__always)
    private static func expand(_ a: Lanes, _ b: Lanes, _ c: Lanes) -> Six {
        let outer = (a + c) * sixth, even = a * twentyFourth + c * sixth, odd = b * twelfth
        return (a * 0.25, -(outer + b * sixth), b * sixth - outer, even + odd, even - odd, c)
    }

    static func accumulateWeight(_ du: UnsafePointer<Float>, stride: Int, into g: UnsafeMutablePointer<Float>) {
        /// Gᵀ applied to six values.
        @inline(__always) func reduce(_ u: (Float, Float, Float, Float, Float, Float)) -> (Float, Float, Float) {
            (u.0 * 0.25 - (u.1 + u.2) * sixth + (u.3 + u.4) * twentyFourth,
             (u.2 - u.1) * sixth + (u.3 - u.4) * twelfth,
             (u.3 + u.4 - u.1 - u.2) * sixth + u.5)
        }
        @inline(__always) func row(_ i: Int) -> (Float, Float, Float) {
            let p = du + i * 6 * stride
            return reduce((p[0], p[stride], p[2 * stride], p[3 * stride], p[4 * stride], p[5 * stride]))
        }
        let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5)
        let left = reduce((r0.0, r1.0, r2.0, r3.0, r4.0, r5.0)), middle = reduce((r0.1, r1.1, r2.1, r3.1, r4.1, r5.1))
        let right = reduce((r0.2, r1.2, r2.2, r3.2, r4.2, r5.2))
        g[0] += left.0; g[3] += left.1; g[6] += left.2
        g[1] += middle.0; g[4] += middle.1; g[7] += middle.2
        g[2] += right.0; g[5] += right.1; g[8] += right.2
    }

    // MARK: Input tiles and output-gradient tiles: a row of tiles at a time.

    static func transformInput(_ source: UnsafePointer<Float>, images: Int, height h: Int, width w: Int,
                               padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int) {
        let total = images * tilesHigh * tilesWide
        withStrips(tilesWide: tilesWide) { strip, rows, width in
            var t = 0
            for image in 0..<images {
                let plane = source + image * h * w
                for ty in 0..<tilesHigh {
                    let top = 4 * ty - padding.height
                    for r in 0..<6 {
                        let y = top + r, row = strip + r * width
                        if y >= 0 && y < h {
                            copy(plane + y * w, count: w, into: row + padding.width)
                        } else {
                            row.update(repeating: 0, count: width)
                        }
                    }
                    columns(strip, width: width, used: 4 * tilesWide + 2, into: rows) { r in inputRow((r(0), r(1), r(2), r(3), r(4), r(5))) }
                    across(rows, width: width, tilesWide: tilesWide, into: v + t, room: total - t, stride: stride) { c in
                        inputRow((c(0), c(1), c(2), c(3), c(4), c(5)))
                    }
                    t += tilesWide
                }
            }
        }
    }

    static func transformOutputGradient(_ source: UnsafePointer<Float>, images: Int, height ho: Int, width wo: Int,
                                        tilesHigh: Int, tilesWide: Int, into dm: UnsafeMutablePointer<Float>, stride: Int) {
        let total = images * tilesHigh * tilesWide
        withStrips(tilesWide: tilesWide) { strip, rows, width in
            var t = 0
            for image in 0..<images {
                let plane = source + image * ho * wo
                for ty in 0..<tilesHigh {
                    for r in 0..<4 {
                        let y = 4 * ty + r, row = strip + r * width
                        if y < ho { copy(plane + y * wo, count: wo, into: row) } else { row.update(repeating: 0, count: width) }
                    }
                    columns(strip, width: width, used: 4 * tilesWide, into: rows) { r in gradientRow((r(0), r(1), r(2), r(3))) }
                    across(rows, width: width, tilesWide: tilesWide, into: dm + t, room: total - t, stride: stride) { c in
                        gradientRow((c(0), c(1), c(2), c(3)))
                    }
                    t += tilesWide
                }
            }
        }
    }

    /// Calls `body(strip, rows, width)` with two zeroed scratch blocks of six rows: `strip` for a tile
    /// row's input (zero where nothing is copied), `rows` for its transform down the columns. The width
    /// covers the widest gather of the last group of eight tiles.
    @inline(__always)
    private static func withStrips(tilesWide: Int,
                                   _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        let width = 32 * ((tilesWide + 7) / 8) + 8
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 12 * width) { buffer in
            let base = buffer.baseAddress!
            base.initialize(repeating: 0, count: 12 * width)
            body(base, base + 6 * width, width)
        }
    }

    /// A short row copied by a plain loop (rows of 8 to 64 floats: a call to memmove costs about as much).
    @inline(__always)
    private static func copy(_ source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>) {
        for i in 0..<count { target[i] = source[i] }
    }

    /// rows[i][x] = transform(strip[·][x])[i] for the `used` columns x (rounded up to eight, the lanes
    /// of one step); columns past them keep the zeros `withStrips` gave them.
    @inline(__always)
    private static func columns(_ strip: UnsafePointer<Float>, width: Int, used: Int, into rows: UnsafeMutablePointer<Float>,
                                _ transform: ((Int) -> Lanes) -> Six) {
        var x = 0
        while x < used {
            let out = transform { r in UnsafeRawPointer(strip + r * width + x).loadUnaligned(as: Lanes.self) }
            @inline(__always) func store(_ i: Int, _ value: Lanes) {
                UnsafeMutableRawPointer(rows + i * width + x).storeBytes(of: value, as: Lanes.self)
            }
            store(0, out.0); store(1, out.1); store(2, out.2); store(3, out.3); store(4, out.4); store(5, out.5)
            x += 8
        }
    }

    /// For each of the six transformed rows i and each tile k of the row: out[i·6 + j][k] =
    /// transform(rows[i][4k ...])[j] (six columns of input, four of gradient), eight tiles per lane
    /// group; tile k's column c is lane k of the stride-4 gather at 4·k₀ + c. Written at `into + ξ·stride
    /// + k`. `room`: slots from `into` to the end of the channel's tiles. A group of fewer than eight
    /// tiles still stores eight lanes where there is room: the extra ones land on the next tile rows'
    /// slots, which this same call writes later.
    @inline(__always)
    private static func across(_ rows: UnsafePointer<Float>, width: Int, tilesWide: Int, into out: UnsafeMutablePointer<Float>,
                               room: Int, stride: Int, _ transform: ((Int) -> Lanes) -> Six) {
        var first = 0
        while first < tilesWide {
            let count = room - first >= 8 ? 8 : min(8, tilesWide - first)
            for i in 0..<6 {
                let row = rows + i * width + 4 * first
                let o = transform { c in UnsafeRawPointer(row + c).loadUnaligned(as: SIMD32<Float>.self).evenHalf.evenHalf }
                let target = out + i * 6 * stride + first
                store(o.0, at: target, count: count); store(o.1, at: target + stride, count: count)
                store(o.2, at: target + 2 * stride, count: count); store(o.3, at: target + 3 * stride, count: count)
                store(o.4, at: target + 4 * stride, count: count); store(o.5, at: target + 5 * stride, count: count)
            }
            first += 8
        }
    }

    /// The first `count` lanes of `value` at `target`.
    @inline(__always)
    private static func store(_ value: Lanes, at target: UnsafeMutablePointer<Float>, count: Int) {
        if count == 8 {
            UnsafeMutableRawPointer(target).storeBytes(of: value, as: Lanes.self)
        } else {
            for k in 0..<count { target[k] = value[k] }
        }
    }

    // MARK: Output tiles: eight at a time in tile order.

    static func transformOutput(_ m: UnsafePointer<Float>, stride: Int, bias: Float, images: Int, height ho: Int, width wo: Int,
                                tilesHigh: Int, tilesWide: Int, into y: UnsafeMutablePointer<Float>) {
        let tilesPerImage = tilesHigh * tilesWide, total = images * tilesPerImage
        let b = Lanes(repeating: bias)
        // Where the group's first tile lies, advanced tile by tile without divisions.
        var (image, ty, tx) = (0, 0, 0)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * 32) { stage in
            var t = 0
            while t < total {
                let count = min(8, total - t)
                @inline(__always) func at(_ xi: Int) -> Lanes {
                    let p = m + xi * stride + t
                    if count == 8 { return UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
                    var lanes = Lanes()
                    for k in 0..<count { lanes[k] = p[k] }
                    return lanes
                }
                // Aᵀ down each of the six columns, then along each of the four rows; each output row's
                // 32 values hold the eight tiles' four columns interleaved (tile k at 4k).
                @inline(__always) func column(_ j: Int) -> Four { outputRow((at(j), at(6 + j), at(12 + j), at(18 + j), at(24 + j), at(30 + j))) }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
                @inline(__always) func interleaved(_ r: Four) -> SIMD32<Float> {
                    var even = SIMD16<Float>(), odd = SIMD16<Float>(), row = SIMD32<Float>()
                    (even.evenHalf, even.oddHalf, odd.evenHalf, odd.oddHalf) = (r.0 + b, r.2 + b, r.1 + b, r.3 + b)
                    (row.evenHalf, row.oddHalf) = (even, odd)
                    return row
                }
                let rows = (interleaved(outputRow((c0.0, c1.0, c2.0, c3.0, c4.0, c5.0))),
                            interleaved(outputRow((c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))),
                            interleaved(outputRow((c0.2, c1.2, c2.2, c3.2, c4.2, c5.2))),
                            interleaved(outputRow((c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))))
                if count == 8 && tx + 8 <= tilesWide && 4 * ty + 4 <= ho && 4 * (tx + 8) <= wo {
                    // Eight tiles side by side, all inside: four row stores.
                    let target = y + (image * ho + 4 * ty) * wo + 4 * tx
                    UnsafeMutableRawPointer(target).storeBytes(of: rows.0, as: SIMD32<Float>.self)
                    UnsafeMutableRawPointer(target + wo).storeBytes(of: rows.1, as: SIMD32<Float>.self)
                    UnsafeMutableRawPointer(target + 2 * wo).storeBytes(of: rows.2, as: SIMD32<Float>.self)
                    UnsafeMutableRawPointer(target + 3 * wo).storeBytes(of: rows.3, as: SIMD32<Float>.self)
                    tx += 8
                    if tx == tilesWide { (tx, ty) = (0, ty + 1) }
                    if ty == tilesHigh { (ty, image) = (0, image + 1) }
                } else {
                    // Tiles in other rows or images, or at the edges: staged, then four floats per tile row.
                    let raw = UnsafeMutableRawPointer(stage.baseAddress!)
                    raw.storeBytes(of: rows.0, as: SIMD32<Float>.self)
                    raw.storeBytes(of: rows.1, toByteOffset: 128, as: SIMD32<Float>.self)
                    raw.storeBytes(of: rows.2, toByteOffset: 256, as: SIMD32<Float>.self)
                    raw.storeBytes(of: rows.3, toByteOffset: 384, as: SIMD32<Float>.self)
                    for k in 0..<count {
                        let target = y + (image * ho + 4 * ty) * wo + 4 * tx, source = stage.baseAddress! + 4 * k
                        let columns = min(4, wo - 4 * tx)
                        for a in 0..<min(4, ho - 4 * ty) {
                            if columns == 4 {
                                UnsafeMutableRawPointer(target + a * wo)
                                    .storeBytes(of: UnsafeRawPointer(source + a * 32).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
                            } else {
                                for column in 0..<columns { target[a * wo + column] = source[a * 32 + column] }
                            }
                        }
                        tx += 1
                        if tx == tilesWide { (tx, ty) = (0, ty + 1) }
                        if ty == tilesHigh { (ty, image) = (0, image + 1) }
                    }
                }
                t += count
            }
        }
    }
}
