import Tensor

/// Smooth value noise: random values on a coarse grid, interpolated to every pixel with smoothstep
/// weights. Cheap by construction: each grid row is interpolated across once, then every pixel is one
/// vertical blend of two such rows, a pass the compiler vectorises. No trigonometry anywhere.
enum ValueNoise {
    /// A `size`×`size` plane in [0, 1) with features about `cell` pixels wide.
    static func plane(size: Int, cell: Float, random: inout SeededRandom) -> [Float] {
        var plane = [Float](repeating: 0, count: size * size)
        add(into: &plane, size: size, cell: cell, weight: 1, random: &random)
        return plane
    }

    /// Octaves from `cell` down, each half as wide and `persistence` times as strong, rescaled to [0, 1].
    static func fractal(size: Int, cell: Float, octaves: Int, persistence: Float = 0.5,
                        random: inout SeededRandom) -> [Float] {
        var plane = [Float](repeating: 0, count: size * size)
        var weight: Float = 1
        var total: Float = 0
        var width = cell
        for _ in 0..<octaves {
            add(into: &plane, size: size, cell: max(width, 1), weight: weight, random: &random)
            total += weight
            weight *= persistence
            width *= 0.5
        }
        // Sums of uniform octaves cluster round the middle: stretch them back to about [0, 1].
        let scale = 1 / total
        let spread: Float = octaves > 1 ? 1.6 : 1
        plane.withUnsafeMutableBufferPointer { values in
            for i in values.indices {
                values[i] = min(max((values[i] * scale - 0.5) * spread + 0.5, 0), 1)
            }
        }
        return plane
    }

    /// Adds `weight` × one octave of noise with features about `cell` pixels wide to `plane`.
    static func add(into plane: inout [Float], size: Int, cell: Float, weight: Float, random: inout SeededRandom) {
        let inverseCell = 1 / cell
        let offsetX = random.nextUniform(), offsetY = random.nextUniform()
        let gridCount = Int((Float(size) * inverseCell).rounded(.up)) + 3
        var grid = [Float](repeating: 0, count: gridCount * gridCount)
        for i in grid.indices { grid[i] = random.nextUniform() * weight }

        // Each pixel column's grid column and smoothed fraction.
        var columnIndex = [Int](repeating: 0, count: size)
        var columnFraction = [Float](repeating: 0, count: size)
        for x in 0..<size {
            let g = (Float(x) + 0.5) * inverseCell + offsetX
            let i = Int(g)
            let f = g - Float(i)
            columnIndex[x] = i
            columnFraction[x] = f * f * (3 - 2 * f)
        }
        // Every grid row, interpolated across the plane's width.
        let usedRows = min(gridCount, Int((Float(size) * inverseCell + offsetY).rounded(.down)) + 2)
        var rows = [Float](repeating: 0, count: usedRows * size)
        rows.withUnsafeMutableBufferPointer { rows in
            grid.withUnsafeBufferPointer { grid in
                for gy in 0..<usedRows {
                    let base = gy * gridCount
                    for x in 0..<size {
                        let a = grid[base + columnIndex[x]], b = grid[base + columnIndex[x] + 1]
                        rows[gy * size + x] = a + (b - a) * columnFraction[x]
                    }
                }
            }
        }
        plane.withUnsafeMutableBufferPointer { out in
            rows.withUnsafeBufferPointer { rows in
                for y in 0..<size {
                    let g = (Float(y) + 0.5) * inverseCell + offsetY
                    let i = Int(g)
                    var f = g - Float(i)
                    f = f * f * (3 - 2 * f)
                    let top = i * size, bottom = (i + 1) * size, row = y * size
                    for x in 0..<size {
                        let a = rows[top + x]
                        out[row + x] += a + (rows[bottom + x] - a) * f
                    }
                }
            }
        }
    }
}

/// A stateless integer hash (SplitMix64's finaliser): the same cell always gets the same value.
@inline(__always)
func mixHash(_ a: UInt64, _ b: UInt64, _ c: UInt64 = 0) -> UInt64 {
    var z = a &* 0x9E37_79B9_7F4A_7C15 ^ (b &+ 0x632B_E59B_D9B4_E019) &* 0xBF58_476D_1CE4_E5B9 ^ c &* 0x94D0_49BB_1331_11EB
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// `mixHash` as a uniform value in [0, 1).
@inline(__always)
func hashUniform(_ a: UInt64, _ b: UInt64, _ c: UInt64 = 0) -> Float {
    Float(mixHash(a, b, c) >> 40) * (1.0 / Float(1 << 24))
}

extension SeededRandom {
    /// Uniform in [low, high).
    mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * nextUniform() }

    /// A whole number in `range`.
    mutating func integer(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// True with probability `p`.
    mutating func chance(_ p: Float) -> Bool { nextUniform() < p }
}
