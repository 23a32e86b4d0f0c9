/// Winograd F(4x4, 3x3): 6x6 input tiles, 4x4 output tiles, 36 GEMMs (see `Winograd` for the
/// shapes), with the matrices of Lavin and Gray (interpolation points 0, ±1, ±2, ∞):
///
///   Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
///         [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]
///   G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]]
///   Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]
///
/// Input and output-gradient tiles are transformed eight at a time in tile order, one tile per SIMD
/// lane, whatever rows and images they come from: the channel's planes are first copied into
/// zero-bordered planes (the padding and the overhang), from which each lane gathers its tile. (An
/// earlier version transformed a row of tiles at a time, which left lanes empty on maps narrower
/// than eight tiles: a 4x4 map filled one lane of eight. The gather measured as fast on 32x32 and
/// 64x64 maps and 1.2-1.3x faster on 16x16 to 4x4.) Output tiles are read eight at a time in tile
/// order, which is contiguous in M whatever the map's size.
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

    /// B u, the adjoint of `inputRow`.
    @inline(__always)
    static func inputGradientRow(_ u: Six) -> Six {
        let (u0, u1, u2, u3, u4, u5) = u
        let sum34 = u3 + u4, difference34 = u3 - u4
        return (4 * u0,
                4 * (u2 - u1 + u5) - 2 * difference34,
                -5 * u0 - 4 * (u1 + u2) - sum34,
                u1 - u2 + 2 * difference34 - 5 * u5,
                u0 + u1 + u2 + sum34,
                u5)
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
    static func transformWeights(_ weights: UnsafePointer<Float>, pairs: Range<Int>, into u: UnsafeMutablePointer<Float>, stride: Int) {
        var pair = pairs.lowerBound
        while pair < pairs.upperBound {
            let count = min(8, pairs.upperBound - pair)
            transformEight(at: pair, count: count, into: u, stride: stride) { k in
                var lanes = Lanes()
                for lane in 0..<count { lanes[lane] = weights[(pair + lane) * 9 + k] }
                return lanes
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
            store(expand(a, b, c), at: u + row * 6 * stride + pair, stride: stride, count: count)
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

    // MARK: Input tiles and output-gradient tiles: eight at a time, gathered from zero-bordered planes.

    static func transformInput(_ source: UnsafePointer<Float>, images: Int, height h: Int, width w: Int,
                               padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                               into v: UnsafeMutablePointer<Float>, stride: Int) {
        let total = images * tilesHigh * tilesWide
        withPaddedPlanes(source, images: images, height: h, width: w, top: padding.height, left: padding.width,
                         planeHeight: 4 * tilesHigh + 2, planeWidth: 4 * tilesWide + 2) { padded, planeWidth in
            forEachTileGroup(total: total, tilesHigh: tilesHigh, tilesWide: tilesWide, planeWidth: planeWidth,
                             planeSize: planeWidth * (4 * tilesHigh + 2)) { offsets, t, count in
                @inline(__always) func column(_ c: Int) -> Six {
                    @inline(__always) func d(_ r: Int) -> Lanes { gather(padded + r * planeWidth + c, offsets) }
                    return inputRow((d(0), d(1), d(2), d(3), d(4), d(5)))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
                @inline(__always) func emit(_ i: Int, _ row: Six) {
                    store(inputRow(row), at: v + i * 6 * stride + t, stride: stride, count: count)
                }
                emit(0, (c0.0, c1.0, c2.0, c3.0, c4.0, c5.0)); emit(1, (c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                emit(2, (c0.2, c1.2, c2.2, c3.2, c4.2, c5.2)); emit(3, (c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
                emit(4, (c0.4, c1.4, c2.4, c3.4, c4.4, c5.4)); emit(5, (c0.5, c1.5, c2.5, c3.5, c4.5, c5.5))
            }
        }
    }

    static func transformOutputGradient(_ source: UnsafePointer<Float>, images: Int, height ho: Int, width wo: Int,
                                        tilesHigh: Int, tilesWide: Int, into dm: UnsafeMutablePointer<Float>, stride: Int) {
        let total = images * tilesHigh * tilesWide
        withPaddedPlanes(source, images: images, height: ho, width: wo, top: 0, left: 0,
                         planeHeight: 4 * tilesHigh, planeWidth: 4 * tilesWide) { padded, planeWidth in
            forEachTileGroup(total: total, tilesHigh: tilesHigh, tilesWide: tilesWide, planeWidth: planeWidth,
                             planeSize: planeWidth * 4 * tilesHigh) { offsets, t, count in
                @inline(__always) func column(_ c: Int) -> Six {
                    @inline(__always) func d(_ r: Int) -> Lanes { gather(padded + r * planeWidth + c, offsets) }
                    return gradientRow((d(0), d(1), d(2), d(3)))
                }
                let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3)
                @inline(__always) func emit(_ i: Int, _ row: Four) {
                    store(gradientRow(row), at: dm + i * 6 * stride + t, stride: stride, count: count)
                }
                emit(0, (c0.0, c1.0, c2.0, c3.0)); emit(1, (c0.1, c1.1, c2.1, c3.1)); emit(2, (c0.2, c1.2, c2.2, c3.2))
                emit(3, (c0.3, c1.3, c2.3, c3.3)); emit(4, (c0.4, c1.4, c2.4, c3.4)); emit(5, (c0.5, c1.5, c2.5, c3.5))
            }
        }
    }

    /// Eight tiles at a time in tile order: B dV Bᵀ in the lanes, then each tile's 6x6 block added into
    /// the zeroed planes in turn (the blocks of neighbouring tiles overlap).
    static func transformInputGradient(_ dv: UnsafePointer<Float>, stride: Int, images: Int, height h: Int, width w: Int,
                                       padding: (height: Int, width: Int), tilesHigh: Int, tilesWide: Int,
                                       into dx: UnsafeMutablePointer<Float>) {
        let total = images * tilesHigh * tilesWide
        withTilePlanes(images: images, height: h, width: w, padding: padding, tilesHigh: tilesHigh, tilesWide: tilesWide,
                       into: dx) { planes, planeWidth, planeSize in
            withUnsafeTemporaryAllocation(of: Lanes.self, capacity: 36) { stage in
                forEachTileGroup(total: total, tilesHigh: tilesHigh, tilesWide: tilesWide, planeWidth: planeWidth,
                                 planeSize: planeSize) { offsets, t, count in
                    @inline(__always) func at(_ xi: Int) -> Lanes { load(dv + xi * stride + t, count: count) }
                    // B down each of the six columns, then along each of the six rows.
                    @inline(__always) func column(_ j: Int) -> Six {
                        inputGradientRow((at(j), at(6 + j), at(12 + j), at(18 + j), at(24 + j), at(30 + j)))
                    }
                    let c0 = column(0), c1 = column(1), c2 = column(2), c3 = column(3), c4 = column(4), c5 = column(5)
                    @inline(__always) func emit(_ r: Int, _ row: Six) {
                        let block = inputGradientRow(row)
                        (stage[6 * r], stage[6 * r + 1], stage[6 * r + 2]) = (block.0, block.1, block.2)
                        (stage[6 * r + 3], stage[6 * r + 4], stage[6 * r + 5]) = (block.3, block.4, block.5)
                    }
                    emit(0, (c0.0, c1.0, c2.0, c3.0, c4.0, c5.0)); emit(1, (c0.1, c1.1, c2.1, c3.1, c4.1, c5.1))
                    emit(2, (c0.2, c1.2, c2.2, c3.2, c4.2, c5.2)); emit(3, (c0.3, c1.3, c2.3, c3.3, c4.3, c5.3))
                    emit(4, (c0.4, c1.4, c2.4, c3.4, c4.4, c5.4)); emit(5, (c0.5, c1.5, c2.5, c3.5, c4.5, c5.5))
                    for k in 0..<count {
                        let block = planes + offsets[k]
                        for r in 0..<6 {
                            let row = block + r * planeWidth
                            for c in 0..<6 { row[c] += stage[6 * r + c][k] }
                        }
                    }
                }
            }
        }
    }

    /// Calls `body(padded, planeWidth)` with the images' planes copied into zeroed planes of
    /// `planeHeight` x `planeWidth`, `top` rows and `left` columns in (what lies outside is cut).
    @inline(__always)
    private static func withPaddedPlanes(_ source: UnsafePointer<Float>, images: Int, height h: Int, width w: Int, top: Int, left: Int,
                                         planeHeight: Int, planeWidth: Int, _ body: (UnsafePointer<Float>, Int) -> Void) {
        let planeSize = planeHeight * planeWidth
        let rows = max(0, min(h, planeHeight - top)), columns = max(0, min(w, planeWidth - left))
        withUnsafeTemporaryAllocation(of: Float.self, capacity: images * planeSize) { buffer in
            let padded = buffer.baseAddress!
            padded.initialize(repeating: 0, count: images * planeSize)
            for image in 0..<images {
                for y in 0..<rows {
                    copy(source + (image * h + y) * w, count: columns, into: padded + image * planeSize + (y + top) * planeWidth + left)
                }
            }
            body(padded, planeWidth)
        }
    }

    /// Calls `body(offsets, t, count)` for every group of eight tiles (fewer at the end) in tile order:
    /// lane k's offset is where tile t + k's block starts in the padded planes (tiles 4 apart);
    /// unused lanes repeat lane 0's.
    @inline(__always)
    private static func forEachTileGroup(total: Int, tilesHigh: Int, tilesWide: Int, planeWidth: Int, planeSize: Int,
                                         _ body: (SIMD8<Int>, Int, Int) -> Void) {
        var (image, ty, tx) = (0, 0, 0)
        var t = 0
        while t < total {
            let count = min(8, total - t)
            var offsets = SIMD8<Int>(repeating: image * planeSize + 4 * ty * planeWidth + 4 * tx)
            for lane in 0..<count {
                offsets[lane] = image * planeSize + 4 * ty * planeWidth + 4 * tx
                tx += 1
                if tx == tilesWide { (tx, ty) = (0, ty + 1) }
                if ty == tilesHigh { (ty, image) = (0, image + 1) }
            }
            body(offsets, t, count)
            t += count
        }
    }

    /// Lane k: `base[offsets[k]]`.
    @inline(__always)
    private static func gather(_ base: UnsafePointer<Float>, _ offsets: SIMD8<Int>) -> Lanes {
        Lanes(base[offsets[0]], base[offsets[1]], base[offsets[2]], base[offsets[3]],
              base[offsets[4]], base[offsets[5]], base[offsets[6]], base[offsets[7]])
    }

    /// A short row copied by a plain loop (rows of 8 to 64 floats: a call to memmove costs about as much).
    @inline(__always)
    private static func copy(_ source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>) {
        for i in 0..<count { target[i] = source[i] }
    }

    /// Six results, the first `count` lanes of each, at `target + j·stride` for j = 0 ..< 6.
    @inline(__always)
    private static func store(_ six: Six, at target: UnsafeMutablePointer<Float>, stride: Int, count: Int) {
        store(six.0, at: target, count: count); store(six.1, at: target + stride, count: count)
        store(six.2, at: target + 2 * stride, count: count); store(six.3, at: target + 3 * stride, count: count)
        store(six.4, at: target + 4 * stride, count: count); store(six.5, at: target + 5 * stride, count: count)
    }

    /// `count` floats from `source` into the first lanes (the rest zero).
    @inline(__always)
    private static func load(_ source: UnsafePointer<Float>, count: Int) -> Lanes {
        if count == 8 { return UnsafeRawPointer(source).loadUnaligned(as: Lanes.self) }
        var lanes = Lanes()
        for k in 0..<count { lanes[k] = source[k] }
        return lanes
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
                @inline(__always) func at(_ xi: Int) -> Lanes { load(m + xi * stride + t, count: count) }
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
