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
        precondition(!transposes || height == width, "\(self) needs square planes, got \(width)x\(height)")
        let plane = height * width
        precondition(values.count % plane == 0, "\(values.count) values are not whole \(width)x\(height) planes")
        var out = [Float](repeating: 0, count: values.count)
        let t = transposes, fx = flipsHorizontally, fy = flipsVertically
        values.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { target in
                for base in stride(from: 0, to: values.count, by: plane) {
                    let s = source.baseAddress! + base, o = target.baseAddress! + base
                    for y in 0..<height {
                        for x in 0..<width {
                            let a = t ? x : y, b = t ? y : x
                            let sy = fy ? height - 1 - a : a, sx = fx ? width - 1 - b : b
                            o[y * width + x] = s[sy * width + sx]
                        }
                    }
                }
            }
        }
        return out
    }

    public func apply(_ planes: ChipPlanes) -> ChipPlanes {
        ChipPlanes(bands: planes.bands, height: planes.height, width: planes.width,
                   values: apply(planes.values, height: planes.height, width: planes.width))
    }

    /// Applies the symmetry to every image of a feature-major batch `[C, N, H, W]`.
    public func apply(_ batch: Tensor) -> Tensor {
        precondition(batch.rank == 4, "a [C, N, H, W] batch, got \(batch.shape)")
        return Tensor(shape: batch.shape, scalars: apply(batch.scalars, height: batch.shape[2], width: batch.shape[3]))
    }
}
