/// im2col and col2im for feature-major input [C, N, H, W].
///
/// The unfolded matrix has one row per (channel, ky, kx) and one column per (image, oy, ox) of the
/// selected images: row r = (c·kh + ky)·kw + kx, column = (n − first)·Ho·Wo + oy·Wo + ox.
/// Unfold splits its work by (row, image); fold splits by image, so its accumulation never races.
enum Unfold {
    /// One past the last output column reading inside the image, where `reach` = w − 1 + pw − kx
    /// (division must round down, also for a negative reach).
    @inline(__always)
    static func lastValidColumn(_ reach: Int, stride: Int, outputWidth: Int, start: Int) -> Int {
        reach < 0 ? start : max(start, min(outputWidth, reach / stride + 1))
    }

    /// dst[ox] = source[2·ox] for ox in `range`, eight at a time: one 16-float load, keep the even
    /// lanes. The vector loop stops while its last load (source[2·ox + 15]) stays at or before the last
    /// element the scalar definition reads, so it never touches memory the plain loop would not.
    @inline(__always)
    static func gatherEven(from source: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, range: Range<Int>) {
        var ox = range.lowerBound
        let raw = UnsafeRawPointer(source)
        while ox + 8 < range.upperBound {
            let pair = raw.loadUnaligned(fromByteOffset: 2 * ox * MemoryLayout<Float>.stride, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + ox).storeBytes(of: pair.evenHalf, as: SIMD8<Float>.self)
            ox += 8
        }
        while ox < range.upperBound {
            dst[ox] = source[2 * ox]
            ox += 1
        }
    }

    /// target[2·ox] += source[ox] for ox in `range`, eight at a time: the scatter twin of `gatherEven`,
    /// with the same bound, so the odd lanes it loads and stores back unchanged lie inside the row the
    /// plain loop writes.
    @inline(__always)
    static func accumulateEven(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, range: Range<Int>) {
        var ox = range.lowerBound
        let raw = UnsafeMutableRawPointer(target)
        while ox + 8 < range.upperBound {
            let offset = 2 * ox * MemoryLayout<Float>.stride
            var pair = raw.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self)
            pair.evenHalf += UnsafeRawPointer(source + ox).loadUnaligned(as: SIMD8<Float>.self)
            raw.storeBytes(of: pair, toByteOffset: offset, as: SIMD16<Float>.self)
            ox += 8
        }
        while ox < range.upperBound {
            target[2 * ox] += source[ox]
            ox += 1
        }
    }

    /// target[i] += source[i] for i < count, eight lanes at a time.
    @inline(__always)
    static func accumulate(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
        let step = MemoryLayout<SIMD8<Float>>.stride
        while i + 8 <= count {
            let sum = to.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                + from.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            to.storeBytes(of: sum, toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += step / 4
        }
        while i < count {
            target[i] += source[i]
            i += 1
        }
    }

    /// `parallel: false` runs on the calling thread (a worker that owns the group). `outputRows`: only
    /// these output rows of each image (a band; all when nil), whose columns then follow one another:
    /// column = (n − first)·rows·Wo + (oy − first row)·Wo + ox.
    static func unfold(_ x: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                       images: Range<Int>, outputRows: Range<Int>? = nil, geometry g: ConvolutionGeometry,
                       into cols: UnsafeMutablePointer<Float>, parallel: Bool = true) {
        let (fullHeight, wo) = g.outputSize(height: h, width: w)
        let rows = outputRows ?? 0..<fullHeight
        precondition(rows.lowerBound >= 0 && rows.upperBound <= fullHeight, "unfold rows \(rows) of \(fullHeight)")
        let ho = rows.count
        let kh = g.kernel.height, kw = g.kernel.width
        let sh = g.stride.height, sw = g.stride.width, ph = g.padding.height, pw = g.padding.width
        let rowLength = images.count * ho * wo
        // Every (row, image) pair writes its own stretch of `cols`: split over all of them, so a
        // 3-channel first layer keeps both cores as busy as a 512-channel one.
        let tasks = channels * kh * kw * images.count
        let run: (Int, Int, (Range<Int>) -> Void) -> Void = parallel
            ? { count, cost, body in Parallel.forEachChunk(count, costPerItem: cost, body) }
            : { count, _, body in body(0..<count) }
        run(tasks, ho * wo) { range in
            for task in range {
                let row = task / images.count, image = images.lowerBound + task % images.count
                let c = row / (kh * kw), ky = row / kw % kh, kx = row % kw
                var dst = cols + row * rowLength + (image - images.lowerBound) * ho * wo
                // Output columns whose input column ox·sw − pw + kx lies inside the image.
                let oxStart = min(wo, max(0, (pw - kx + sw - 1) / sw))
                let oxEnd = Unfold.lastValidColumn(w - 1 + pw - kx, stride: sw, outputWidth: wo, start: oxStart)
                let plane = x + (c * batch + image) * h * w
                for oy in rows {
                    let iy = oy * sh - ph + ky
                    if iy < 0 || iy >= h {
                        dst.update(repeating: 0, count: wo)
                    } else {
                        let source = plane + iy * w - pw + kx
                        if oxStart > 0 { dst.update(repeating: 0, count: oxStart) }
                        if sw == 1 {
                            (dst + oxStart).update(from: source + oxStart, count: oxEnd - oxStart)
                        } else if sw == 2 {
                            Unfold.gatherEven(from: source, into: dst, range: oxStart..<oxEnd)
                        } else {
                            for ox in oxStart..<oxEnd { dst[ox] = source[ox * sw] }
                        }
                        if oxEnd < wo { (dst + oxEnd).update(repeating: 0, count: wo - oxEnd) }
                    }
                    dst += wo
                }
            }
        }
    }

    /// Writes the folded gradient of the selected images into dx: their planes are zeroed here, by the
    /// thread that then accumulates into them (while they are in its cache), so dx may come in
    /// uninitialised. Split by image: an image's columns touch only that image's planes, so no two
    /// threads ever write the same element.
    static func fold(_ cols: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                     images: Range<Int>, geometry g: ConvolutionGeometry, into dx: UnsafeMutablePointer<Float>) {
        let (ho, wo) = g.outputSize(height: h, width: w)
        let kh = g.kernel.height, kw = g.kernel.width
        let sh = g.stride.height, sw = g.stride.width, ph = g.padding.height, pw = g.padding.width
        let rowLength = images.count * ho * wo
        if kh == 1 && kw == 1 && ph == 0 && pw == 0 {
            spread(cols, channels: channels, batch: batch, height: h, width: w, images: images, stride: (sh, sw), into: dx)
            return
        }
        Parallel.forEachChunk(images.count, costPerItem: channels * kh * kw * ho * wo) { range in
            for offset in range {
                let image = images.lowerBound + offset
                for c in 0..<channels { (dx + (c * batch + image) * h * w).update(repeating: 0, count: h * w) }
                for c in 0..<channels {
                    let plane = dx + (c * batch + image) * h * w
                    for ky in 0..<kh {
                        for kx in 0..<kw {
                            var src = cols + ((c * kh + ky) * kw + kx) * rowLength + offset * ho * wo
                            let oxStart = min(wo, max(0, (pw - kx + sw - 1) / sw))
                            let oxEnd = Unfold.lastValidColumn(w - 1 + pw - kx, stride: sw, outputWidth: wo, start: oxStart)
                            for oy in 0..<ho {
                                let iy = oy * sh - ph + ky
                                if iy >= 0 && iy < h {
                                    let target = plane + iy * w - pw + kx
                                    if sw == 1 {
                                        Unfold.accumulate(src + oxStart, into: target + oxStart, count: oxEnd - oxStart)
                                    } else if sw == 2 {
                                        Unfold.accumulateEven(src, into: target, range: oxStart..<oxEnd)
                                    } else {
                                        for ox in oxStart..<oxEnd { target[ox * sw] += src[ox] }
                                    }
                                }
                                src += wo
                            }
                        }
                    }
                }
            }
        }
    }

    /// Fold for a 1x1 unpadded kernel (a strided projection): every input pixel gets at most one column,
    /// so dx is written once, row by row, with no zero fill first and no read-modify-write:
    /// dx[c, n, y·sh, x·sw] = cols[c, n, y, x] and zero elsewhere.
    private static func spread(_ cols: UnsafePointer<Float>, channels: Int, batch: Int, height h: Int, width w: Int,
                               images: Range<Int>, stride: (height: Int, width: Int), into dx: UnsafeMutablePointer<Float>) {
        let (sh, sw) = stride
        let ho = (h - 1) / sh + 1, wo = (w - 1) / sw + 1
        let rowLength = images.count * ho * wo
        Parallel.forEachChunk(channels * images.count, costPerItem: h * w) { range in
            for task in range {
                let c = task / images.count, offset = task % images.count
                let plane = dx + (c * batch + images.lowerBound + offset) * h * w
                let source = cols + c * rowLength + offset * ho * wo
                for iy in 0..<h {
                    let target = plane + iy * w
                    guard iy % sh == 0 else {
                        target.update(repeating: 0, count: w)
                        continue
                    }
                    let src = source + iy / sh * wo
                    var ox = 0
                    if sw == 2 {
                        let raw = UnsafeMutableRawPointer(target)
                        while 2 * ox + 16 <= w {
                            var pair = SIMD16<Float>()
                            pair.evenHalf = UnsafeRawPointer(src + ox).loadUnaligned(as: SIMD8<Float>.self)
                            raw.storeBytes(of: pair, toByteOffset: 2 * ox * MemoryLayout<Float>.stride, as: SIMD16<Float>.self)
                            ox += 8
                        }
                    }
                    var ix = ox * sw
                    while ix < w {
                        target[ix] = ix % sw == 0 ? src[ix / sw] : 0
                        ix += 1
                    }
                }
            }
        }
    }
}
