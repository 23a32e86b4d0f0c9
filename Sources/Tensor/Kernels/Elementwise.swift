import Synchronization
import Foundation

/// Pointwise activations and tensor plumbing (add, concatenate, flatten). Forward and backward of each
/// sit together; all shapes are unchanged unless stated.
public enum Activation {
    /// y = max(x, 0).
    public static func reluForward(_ x: Tensor) -> Tensor {
        map(x) { max($0, 0) }
    }

    /// dx = dy where the forward output was positive (the output decides, so x need not be kept).
    public static func reluBackward(_ dy: Tensor, output y: Tensor) -> Tensor {
        zip2(dy, y) { g, out in out > 0 ? g : 0 }
    }

    /// y = 1 / (1 + e^−x), computed without overflow for large |x|.
    public static func sigmoidForward(_ x: Tensor) -> Tensor {
        map(x) { sigmoid($0) }
    }

    /// dx = dy · y · (1 − y).
    public static func sigmoidBackward(_ dy: Tensor, output y: Tensor) -> Tensor {
        zip2(dy, y) { g, out in g * out * (1 - out) }
    }

    /// Inverted dropout: keeps each value with probability 1 − p and scales it by 1/(1 − p), so
    /// inference needs no rescaling. Returns the output and the mask (0 or 1/(1−p)) for backward.
    public static func dropoutForward(_ x: Tensor, probability p: Float, random: inout SeededRandom) -> (output: Tensor, mask: Tensor) {
        precondition(p >= 0 && p < 1, "dropout probability \(p)")
        var mask = Tensor(shape: x.shape)
        let keep = 1 / (1 - p)
        for i in 0..<mask.count { mask.scalars[i] = random.nextUniform() >= p ? keep : 0 }
        return (zip2(x, mask, *), mask)
    }

    public static func dropoutBackward(_ dy: Tensor, mask: Tensor) -> Tensor { zip2(dy, mask, *) }

    /// y = f(x), elementwise, split across cores.
    public static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        Tensor(shape: x.shape) { yp in
            x.scalars.withUnsafeBufferPointer { xp in
                Parallel.forEachChunk(x.count) { range in for i in range { yp[i] = f(xp[i]) } }
            }
        }
    }

    /// y = f(a, b), elementwise over two tensors of one shape.
    public static func zip2(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "shapes \(a.shape) and \(b.shape)")
        return Tensor(shape: a.shape) { yp in
            a.scalars.withUnsafeBufferPointer { ap in
                b.scalars.withUnsafeBufferPointer { bp in
                    Parallel.forEachChunk(a.count) { range in for i in range { yp[i] = f(ap[i], bp[i]) } }
                }
            }
        }
    }
}

@inline(__always)
public func sigmoid(_ x: Float) -> Float {
    x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
}

public enum TensorPlumbing {
    /// y = a + b (residual connections); backward hands dy to both.
    public static func add(_ a: Tensor, _ b: Tensor) -> Tensor { Activation.zip2(a, b, +) }

    /// y = max(a + b, 0): a residual sum and the ReLU after it in one pass.
    public static func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor { Activation.zip2(a, b) { max($0 + $1, 0) } }

    /// Concatenation along axis 0 (channels in [C, N, H, W]): in the feature-major layout each input
    /// is one contiguous block, so this is appending. Inputs must agree on every other axis.
    public static func concatenateChannels(_ parts: [Tensor]) -> Tensor {
        precondition(!parts.isEmpty)
        let tail = Array(parts[0].shape.dropFirst())
        precondition(parts.allSatisfy { Array($0.shape.dropFirst()) == tail }, "concat shapes \(parts.map(\.shape))")
        var scalars: [Float] = []
        scalars.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { scalars += part.scalars }
        return Tensor(shape: [parts.reduce(0) { $0 + $1.shape[0] }] + tail, scalars: scalars)
    }

    /// Backward of concatenation: the slices of dy, one per input, by channel counts.
    public static func splitChannels(_ dy: Tensor, channels: [Int]) -> [Tensor] {
        let inner = dy.count / dy.shape[0]
        var start = 0
        return channels.map { c in
            defer { start += c * inner }
            return Tensor(shape: [c] + dy.shape.dropFirst(), scalars: Array(dy.scalars[start..<(start + c * inner)]))
        }
    }

    /// [C, N, H, W] → [C·H·W, N], features in PyTorch's per-image order (c, h, w), so a dense layer
    /// after it uses torchvision's weights unchanged.
    public static func flatten(_ x: Tensor) -> Tensor {
        let c = x.shape[0], n = x.shape[1], hw = x.count / max(c * n, 1)
        var y = Tensor(shape: [c * hw, n])
        x.scalars.withUnsafeBufferPointer { xp in
            y.scalars.withUnsafeMutableBufferPointer { yp in
                Parallel.forEachChunk(c, costPerItem: n * hw) { range in
                    for ch in range {
                        for image in 0..<n {
                            for k in 0..<hw { yp[(ch * hw + k) * n + image] = xp[(ch * n + image) * hw + k] }
                        }
                    }
                }
            }
        }
        return y
    }

    /// Backward of `flatten`: [C·H·W, N] back to `shape` = [C, N, H, W].
    public static func unflatten(_ dy: Tensor, to shape: [Int]) -> Tensor {
        let c = shape[0], n = shape[1], hw = shape.dropFirst(2).reduce(1, *)
        var dx = Tensor(shape: shape)
        dy.scalars.withUnsafeBufferPointer { dyp in
            dx.scalars.withUnsafeMutableBufferPointer { dxp in
                Parallel.forEachChunk(c, costPerItem: n * hw) { range in
                    for ch in range {
                        for image in 0..<n {
                            for k in 0..<hw { dxp[(ch * n + image) * hw + k] = dyp[(ch * hw + k) * n + image] }
                        }
                    }
                }
            }
        }
        return dx
    }
}

extension Tensor {
    /// Whether every value is finite (no NaN, no infinity): eight lanes at a time, no branch per value
    /// (x·0 is 0 for a finite x and NaN otherwise, so one NaN in the running sum tells), split across
    /// the cores. What a training step checks its gradients with.
    public var allFinite: Bool {
        let finite = Atomic<Bool>(true)
        scalars.withUnsafeBufferPointer { p in
            Parallel.forEachChunk(p.count) { range in
                var lanes = SIMD8<Float>.zero
                var i = range.lowerBound
                while i + 8 <= range.upperBound {
                    lanes += UnsafeRawPointer(p.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self) * 0
                    i += 8
                }
                var tail: Float = 0
                while i < range.upperBound {
                    tail += p[i] * 0
                    i += 1
                }
                if lanes.sum() + tail != 0 { finite.store(false, ordering: .relaxed) }
            }
        }
        return finite.load(ordering: .relaxed)
    }
}
