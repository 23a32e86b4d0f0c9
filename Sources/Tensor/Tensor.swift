/// A dense Float32 array with a shape: contiguous, row-major (last axis fastest), value semantics
/// (copy on write through Swift's Array).
///
/// Activation layout across Canopy's engine: **feature-major**. Feature maps are `[C, N, H, W]`
/// (channels, batch, height, width) and feature vectors are `[F, N]`. A convolution is then a single
/// GEMM over the whole batch, `Y[Co, N·Ho·Wo] = W[Co, Ci·kh·kw] × cols[Ci·kh·kw, N·Ho·Wo]`, whose output
/// is already the next layer's input with no transpose; a 1x1 convolution is that GEMM on the input
/// itself; batch norm reduces over one contiguous run per channel; channel concatenation appends
/// blocks. See docs/ENGINE.md for the measurements behind the choice.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
    }

    /// A tensor of `shape` holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "\(scalars.count) scalars for shape \(shape)")
        self.shape = shape
        self.scalars = scalars
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(shape: shape) }

    /// A tensor of `shape` whose scalars `initializer` must set, every one of them: for kernels whose
    /// output a GEMM with β = 0 overwrites whole, where zero-filling first would only cost bandwidth.
    public init(shape: [Int], unsafeUninitialized initializer: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            initializer(buffer)
            initialized = count
        }
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    /// Sets every scalar to zero, keeping the storage (no allocation when uniquely held).
    public mutating func zero() {
        scalars.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// Reshapes in place to `newShape`, reusing the storage when it already has that size.
    public mutating func resize(to newShape: [Int]) {
        let needed = newShape.reduce(1, *)
        if needed != scalars.count { scalars = [Float](repeating: 0, count: needed) }
        shape = newShape
    }

    /// The 2-D transpose of a `[rows, columns]` tensor.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed() needs a matrix, got \(shape)")
        let rows = shape[0], columns = shape[1]
        var out = Tensor(shape: [columns, rows])
        scalars.withUnsafeBufferPointer { a in
            out.scalars.withUnsafeMutableBufferPointer { b in
                for r in 0..<rows { for c in 0..<columns { b[c * rows + r] = a[r * columns + c] } }
            }
        }
        return out
    }

    /// Feature-major `[C, N, ...]` from batch-major `[N, C, ...]` (PyTorch's NCHW), and back: the two
    /// leading axes swap.
    public func swappingLeadingAxes() -> Tensor {
        precondition(rank >= 2, "needs at least two axes, got \(shape)")
        let a = shape[0], b = shape[1], inner = shape.dropFirst(2).reduce(1, *)
        var newShape = shape
        newShape.swapAt(0, 1)
        var out = Tensor(shape: newShape)
        scalars.withUnsafeBufferPointer { src in
            out.scalars.withUnsafeMutableBufferPointer { dst in
                for i in 0..<a {
                    for j in 0..<b {
                        let from = (i * b + j) * inner, to = (j * a + i) * inner
                        for k in 0..<inner { dst[to + k] = src[from + k] }
                    }
                }
            }
        }
        return out
    }

    /// Largest absolute difference from `other`, and the largest relative to the scale of `other`
    /// (|a − b| / max(|b|, floor)).
    public func maxDifference(from other: Tensor, relativeFloor: Float = 1e-3) -> (absolute: Float, relative: Float) {
        precondition(shape == other.shape, "shapes \(shape) and \(other.shape) differ")
        var absolute: Float = 0, relative: Float = 0
        for i in 0..<count {
            let d = abs(scalars[i] - other.scalars[i])
            absolute = max(absolute, d)
            relative = max(relative, d / max(abs(other.scalars[i]), relativeFloor))
        }
        return (absolute, relative)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(preview)\(count > 8 ? ", ..." : "")])"
    }
}
