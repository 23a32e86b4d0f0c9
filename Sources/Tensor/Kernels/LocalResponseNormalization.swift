import Foundation

/// Local response normalisation across channels (AlexNet, Krizhevsky et al. 2012), PyTorch's
/// `LocalResponseNorm(size, alpha, beta, k)` on [C, N, H, W]:
///   s_c = k + (α/size) · Σ_{c' ∈ W(c)} x_{c'}²,  W(c) = [c − ⌊size/2⌋, c + ⌊(size−1)/2⌋] ∩ [0, C)
///   y_c = x_c · s_c^−β
/// Backward: dx_j = dy_j · s_j^−β − (2αβ/size) · x_j · Σ_{c : j ∈ W(c)} dy_c · x_c · s_c^(−β−1)
public enum LocalResponseNormalization {
    public struct Parameters: Sendable, Equatable {
        public var size: Int
        public var alpha: Float
        public var beta: Float
        public var k: Float

        public init(size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 2) {
            self.size = size
            self.alpha = alpha
            self.beta = beta
            self.k = k
        }
    }

    /// Returns y and the scale s (kept for backward).
    public static func forward(_ x: Tensor, _ p: Parameters) -> (output: Tensor, scale: Tensor) {
        let channels = x.shape[0], run = x.count / channels
        var scale = Tensor(shape: x.shape), y = Tensor(shape: x.shape)
        let before = p.size / 2, after = (p.size - 1) / 2
        x.scalars.withUnsafeBufferPointer { xp in
            scale.scalars.withUnsafeMutableBufferPointer { sp in
                y.scalars.withUnsafeMutableBufferPointer { yp in
                    Parallel.forEachChunk(run, costPerItem: channels * p.size) { range in
                        for i in range {
                            for c in 0..<channels {
                                var sum: Float = 0
                                for c2 in max(0, c - before)...min(channels - 1, c + after) {
                                    let v = xp[c2 * run + i]
                                    sum += v * v
                                }
                                let s = p.k + p.alpha / Float(p.size) * sum
                                sp[c * run + i] = s
                                yp[c * run + i] = xp[c * run + i] * Foundation.pow(s, -p.beta)
                            }
                        }
                    }
                }
            }
        }
        return (y, scale)
    }

    public static func backward(_ dy: Tensor, input x: Tensor, scale: Tensor, _ p: Parameters) -> Tensor {
        let channels = x.shape[0], run = x.count / channels
        var dx = Tensor(shape: x.shape)
        // c contributes to j when j ∈ W(c), i.e. c ∈ [j − ⌊(size−1)/2⌋, j + ⌊size/2⌋].
        let below = (p.size - 1) / 2, above = p.size / 2
        let factor = 2 * p.alpha * p.beta / Float(p.size)
        dy.scalars.withUnsafeBufferPointer { dyp in
            x.scalars.withUnsafeBufferPointer { xp in
                scale.scalars.withUnsafeBufferPointer { sp in
                    dx.scalars.withUnsafeMutableBufferPointer { dxp in
                        Parallel.forEachChunk(run, costPerItem: channels * p.size) { range in
                            var weighted = [Float](repeating: 0, count: channels)
                            for i in range {
                                for c in 0..<channels {
                                    let s = sp[c * run + i]
                                    weighted[c] = dyp[c * run + i] * xp[c * run + i] * Foundation.pow(s, -p.beta - 1)
                                }
                                for j in 0..<channels {
                                    var sum: Float = 0
                                    for c in max(0, j - below)...min(channels - 1, j + above) { sum += weighted[c] }
                                    let at = j * run + i
                                    dxp[at] = dyp[at] * Foundation.pow(sp[at], -p.beta) - factor * xp[at] * sum
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
