import Foundation
import Tensor

/// A product of few columns (or few rows and a short sum) on one thread, as Canopy's workers run them,
/// in one `cblas_sgemm` call beside `BLAS.gemm`'s blocks of rows or columns
/// (`EngineSettings.gemmBlocks`), alternating in each round.
/// Each timed pass multiplies several different A (a layer's weights, as Winograd's 36 positions) by
/// one B, so A comes from memory as in a network's pass.
public struct GEMMBlocksBenchmark {
    public struct Shape: Sendable, Equatable {
        public var m: Int, k: Int, n: Int
        /// A stored [k, m] (the input gradients' Wᵀ·dY).
        public var transposeA: Bool

        public init(m: Int, k: Int, n: Int, transposeA: Bool = false) {
            (self.m, self.k, self.n, self.transposeA) = (m, k, n, transposeA)
        }

        /// "MxKxN", with a "t" after it when A is transposed.
        public init?(_ text: String) {
            let transposed = text.hasSuffix("t")
            let parts = text.dropLast(transposed ? 1 : 0).split(separator: "x").compactMap { Int($0) }
            guard parts.count == 3, parts.allSatisfy({ $0 > 0 }) else { return nil }
            self.init(m: parts[0], k: parts[1], n: parts[2], transposeA: transposed)
        }

        public var name: String { "\(m)x\(k)x\(n)\(transposeA ? "t" : "")" }
    }

    public struct Row: Sendable {
        public var shape: Shape
        public var matrices: Int
        public var wholeGflops: Double
        public var blocksGflops: Double
    }

    /// The shapes behind `BLAS.smallProductColumns` and `smallProductRowsTimesDepth` (m x k x n):
    /// Winograd's positions and the small maps' taps at 64-128 px, larger n where row blocks stop
    /// paying, and layer1's 64 x 64 positions in training (blocks of columns).
    public static let defaultShapes = [
        Shape(m: 512, k: 512, n: 32), Shape(m: 256, k: 256, n: 32), Shape(m: 512, k: 256, n: 64), Shape(m: 128, k: 128, n: 128),
        Shape(m: 256, k: 256, n: 128), Shape(m: 256, k: 64, n: 256), Shape(m: 512, k: 64, n: 512),
        Shape(m: 256, k: 512, n: 32, transposeA: true), Shape(m: 256, k: 512, n: 96, transposeA: true),
        Shape(m: 64, k: 64, n: 512), Shape(m: 64, k: 64, n: 1792), Shape(m: 128, k: 128, n: 512),
    ]

    public var shapes: [Shape]
    public var rounds: Int

    public init(shapes: [Shape] = defaultShapes, rounds: Int = 7) {
        self.shapes = shapes
        self.rounds = rounds
    }

    public func run() -> [Row] {
        let saved = BLAS.threads
        BLAS.threads = 1
        defer { BLAS.threads = saved }
        return shapes.map(measure)
    }

    private func measure(_ shape: Shape) -> Row {
        let (m, k, n) = (shape.m, shape.k, shape.n)
        // About 8 MB of A a pass: more than a core's L2, as a layer's weights.
        let matrices = max(1, (2 << 20) / (m * k))
        var random = SeededRandom(seed: 5)
        let a = (0..<(matrices * m * k)).map { _ in random.nextUniform() - 0.5 }
        let b = (0..<(k * n)).map { _ in random.nextUniform() - 0.5 }
        var c = [Float](repeating: 0, count: m * n)
        func pass(blocks: Bool) -> Double {
            EngineSettings.with(EngineSettings.current.with { $0.gemmBlocks = blocks }) {
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        c.withUnsafeMutableBufferPointer { cp in
                            timed {
                                for i in 0..<matrices {
                                    BLAS.gemm(transposeA: shape.transposeA, m: m, n: n, k: k, a: ap.baseAddress! + i * m * k,
                                              lda: shape.transposeA ? m : k, b: bp.baseAddress!, ldb: n, c: cp.baseAddress!, ldc: n)
                                }
                            }
                        }
                    }
                }
            }
        }
        _ = (pass(blocks: false), pass(blocks: true))  // warm-up
        var whole = [Double](), blocks = [Double]()
        for round in 0..<rounds {
            // Alternate which goes first.
            if round % 2 == 0 { whole.append(pass(blocks: false)); blocks.append(pass(blocks: true)) } else {
                blocks.append(pass(blocks: true)); whole.append(pass(blocks: false))
            }
        }
        let flops = 2 * Double(matrices * m * k * n) / 1e9
        return Row(shape: shape, matrices: matrices, wholeGflops: flops / median(whole), blocksGflops: flops / median(blocks))
    }
}
