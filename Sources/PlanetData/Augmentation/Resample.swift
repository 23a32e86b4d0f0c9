/// Resampling a rectangle of a chip to a square (or any) output: bilinear, with supersampling when
/// shrinking so a 2:1 reduction averages its 2x2 footprint instead of aliasing. Coordinates outside
/// the chip repeat the edge pixel.
public enum Resample {
    /// The region `x, y, width, height` (source pixels, fractional allowed) of `planes`, resampled to
    /// `toWidth` x `height`. A region of exactly the output's size at integer offsets inside the chip is a copy.
    public static func region(of planes: ChipPlanes, x: Float, y: Float, width: Float, height: Float,
                              toWidth outWidth: Int, height outHeight: Int) -> ChipPlanes {
        var out = ChipPlanes(bands: planes.bands, height: outHeight, width: outWidth)
        let scaleX = width / Float(outWidth), scaleY = height / Float(outHeight)
        let x0 = Int(x), y0 = Int(y)
        if scaleX == 1, scaleY == 1, Float(x0) == x, Float(y0) == y, x0 >= 0, y0 >= 0,
           x0 + outWidth <= planes.width, y0 + outHeight <= planes.height {
            copy(planes, x0: x0, y0: y0, into: &out)
            return out
        }
        // Samples per output pixel along each axis: enough that each covers at most one source pixel.
        let samplesX = max(1, Int(scaleX.rounded(.up))), samplesY = max(1, Int(scaleY.rounded(.up)))
        let (columns, columnWeights) = taps(start: x, scale: scaleX, samples: samplesX, count: outWidth, limit: planes.width)
        let (rows, rowWeights) = taps(start: y, scale: scaleY, samples: samplesY, count: outHeight, limit: planes.height)
        let tapsX = samplesX * 2, tapsY = samplesY * 2
        let inPlane = planes.planeSize, outPlane = out.planeSize, sourceWidth = planes.width
        if samplesX == 1 && samplesY == 1 {
            bilinear(planes, columns: columns, columnWeights: columnWeights, rows: rows, rowWeights: rowWeights, into: &out)
            return out
        }
        planes.values.withUnsafeBufferPointer { source in
            out.values.withUnsafeMutableBufferPointer { target in
                for band in 0..<planes.bands {
                    let s = source.baseAddress! + band * inPlane, t = target.baseAddress! + band * outPlane
                    for oy in 0..<outHeight {
                        for ox in 0..<outWidth {
                            var sum: Float = 0
                            for ty in 0..<tapsY {
                                let row = rows[oy * tapsY + ty], wy = rowWeights[oy * tapsY + ty]
                                if wy == 0 { continue }
                                var line: Float = 0
                                for tx in 0..<tapsX {
                                    line += s[row * sourceWidth + columns[ox * tapsX + tx]] * columnWeights[ox * tapsX + tx]
                                }
                                sum += line * wy
                            }
                            t[oy * outWidth + ox] = sum
                        }
                    }
                }
            }
        }
        return out
    }

    /// For each output index, `2·samples` source indices and weights (bilinear taps of each sub-sample,
    /// weights summing to one), clamped to `0..<limit`.
    private static func taps(start: Float, scale: Float, samples: Int, count: Int, limit: Int) -> ([Int], [Float]) {
        var indices = [Int](repeating: 0, count: count * samples * 2), weights = [Float](repeating: 0, count: count * samples * 2)
        let share = 1 / Float(samples)
        for o in 0..<count {
            for s in 0..<samples {
                // Centre of sub-sample s of output pixel o, in source pixel coordinates (centres at +0.5).
                let centre = start + (Float(o) + (Float(s) + 0.5) * share) * scale - 0.5
                let clamped = min(max(centre, 0), Float(limit - 1))
                let low = Int(clamped), high = min(low + 1, limit - 1)
                let fraction = clamped - Float(low)
                let slot = (o * samples + s) * 2
                indices[slot] = low
                indices[slot + 1] = high
                weights[slot] = (1 - fraction) * share
                weights[slot + 1] = fraction * share
            }
        }
        return (indices, weights)
    }

    /// One bilinear sample per output pixel (crops, shifts and enlargements): two rows blended once
    /// per output row, then two columns per pixel.
    private static func bilinear(_ planes: ChipPlanes, columns: [Int], columnWeights: [Float], rows: [Int], rowWeights: [Float],
                                 into out: inout ChipPlanes) {
        let outWidth = out.width, outHeight = out.height, sourceWidth = planes.width
        let inPlane = planes.planeSize, outPlane = out.planeSize
        var line = [Float](repeating: 0, count: sourceWidth)
        planes.values.withUnsafeBufferPointer { source in
            out.values.withUnsafeMutableBufferPointer { target in
                line.withUnsafeMutableBufferPointer { blended in
                    for band in 0..<planes.bands {
                        let s = source.baseAddress! + band * inPlane, t = target.baseAddress! + band * outPlane
                        for oy in 0..<outHeight {
                            let top = s + rows[2 * oy] * sourceWidth, bottom = s + rows[2 * oy + 1] * sourceWidth
                            let wTop = rowWeights[2 * oy], wBottom = rowWeights[2 * oy + 1]
                            for x in 0..<sourceWidth { blended[x] = top[x] * wTop + bottom[x] * wBottom }
                            let row = t + oy * outWidth
                            for ox in 0..<outWidth {
                                row[ox] = blended[columns[2 * ox]] * columnWeights[2 * ox] + blended[columns[2 * ox + 1]] * columnWeights[2 * ox + 1]
                            }
                        }
                    }
                }
            }
        }
    }

    private static func copy(_ planes: ChipPlanes, x0: Int, y0: Int, into out: inout ChipPlanes) {
        let width = out.width, height = out.height, outPlane = out.planeSize
        planes.values.withUnsafeBufferPointer { source in
            out.values.withUnsafeMutableBufferPointer { target in
                for band in 0..<planes.bands {
                    for row in 0..<height {
                        let from = band * planes.planeSize + (y0 + row) * planes.width + x0
                        let to = band * outPlane + row * width
                        (target.baseAddress! + to).update(from: source.baseAddress! + from, count: width)
                    }
                }
            }
        }
    }
}
