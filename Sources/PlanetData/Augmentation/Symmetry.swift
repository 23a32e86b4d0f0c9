import Tensor

/// The 8 symmetries of the square (the dihedral group D4): what a satellite chip may undergo without
/// changing its labels. Random ones augment training; all 8 (or the 4 flips) serve test-time augmentation.
///
/// Each is a transpose (or not) followed by a horizontal and a vertical flip (or not): the output
/// pixel (y, x) is the input pixel (y', x') with (a, b) = transposed ? (x, y) : (y, x),
/// y' = flipsVertically ? H−1−a : a, x' = flipsHorizontally ? W−1−b : b.
public enum Symmetry: Int, CaseIterable, Sendable, Codable {
    case identity, flipHorizontal, flipVertical, rotate180
    case transpose, rotate90Clockwise, rotate90CounterClockwise, antiTranspose

    public var transposes: Bool { rawValue >= 4 }
    public var flipsHorizontally: Bool {
        switch self {
        case .flipHorizontal, .rotate180, .rotate90CounterClockwise, .antiTranspose: true
        default: false
        }
    }
    public var flipsVertically: Bool {
        switch self {
        case .flipVertical, .rotate180, .rotate90Clockwise, .antiTranspose: true
        default: false
        }
    }

    /// The four flips (identity, horizontal, vertical, both): the `flips` test-time augmentation.
    public static let flips: [Symmetry] = [.identity, .flipHorizontal, .flipVertical, .rotate180]

    /// Applies the symmetry to every `height` x `width` plane of `values` (planes stored one after
    /// another); transposing ones need square planes.
    public func apply(_ values: [Float], height: Int, width: Int) -> [Float] {
        if self == .identity { return values }
        let plane = height * width
        precondition(values.count % plane == 0, "\(values.count) values are not whole \(width)x\(height) planes")
        return values.withUnsafeBufferPointer { source in
            [Float](unsafeUninitializedCapacity: values.count) { target, count in
                apply(source.baseAddress!, target.baseAddress!, planes: 0..<values.count / plane, height: height, width: width)
                count = values.count
            }
        }
    }

    /// The symmetry of planes `planes` of `source` into the same planes of `target`: rows copied or
    /// reversed whole when it does not transpose, else read down the source's columns.
    func apply(_ source: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, planes: Range<Int>, height: Int, width: Int) {
        precondition(!transposes || height == width, "\(self) needs square planes, got \(width)x\(height)")
        let plane = height * width, fx = flipsHorizontally, fy = flipsVertically
        for base in planes.lazy.map({ $0 * plane }) {
            let s = source + base, o = target + base
            for y in 0..<height {
                let row = o + y * width
                if transposes {
                    // Output row y is source column y' (flipped or not), read top to bottom or back.
                    let column = s + (fx ? width - 1 - y : y)
                    for x in 0..<width { row[x] = column[(fy ? height - 1 - x : x) * width] }
                } else {
                    let from = s + (fy ? height - 1 - y : y) * width
                    if fx { for x in 0..<width { row[x] = from[width - 1 - x] } } else { row.update(from: from, count: width) }
                }
            }
        }
    }

    public func apply(_ planes: ChipPlanes) -> ChipPlanes {
        ChipPlanes(bands: planes.bands, height: planes.height, width: planes.width,
                   values: apply(planes.values, height: planes.height, width: planes.width))
    }

    /// Applies the symmetry to every image of a feature-major batch `[C, N, H, W]`, its planes split
    /// over the workers (test-time augmentation makes 7 such views of every batch).
    public func apply(_ batch: Tensor) -> Tensor {
        precondition(batch.rank == 4, "a [C, N, H, W] batch, got \(batch.shape)")
        if self == .identity { return batch }
        let (height, width) = (batch.shape[2], batch.shape[3])
        return Tensor(shape: batch.shape) { target in
            batch.scalars.withUnsafeBufferPointer { source in
                Parallel.forEachChunk(batch.shape[0] * batch.shape[1], costPerItem: height * width) { planes in
                    apply(source.baseAddress!, target.baseAddress!, planes: planes, height: height, width: width)
                }
            }
        }
    }
}
