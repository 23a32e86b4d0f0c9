import Foundation
import Tensor

/// Canopy's convolution (unfold + one batch-wide GEMM, forward and backward) beside `cblas_sgemm`
/// alone on the same GEMM shapes, alternating in each round, for the convolutions of a network.
/// Also times the per-image alternative (one GEMM per image, as an NCHW engine does) on the forward
/// pass: the measurement behind the engine's feature-major layout.
public struct KernelBenchmark {
    public struct Shape: Sendable {
        public var name: String
        public var geometry: ConvolutionGeometry
        public var batch: Int
        public var height: Int
        public var width: Int

        public var output: (height: Int, width: Int) { geometry.outputSize(height: height, width: width) }
        /// Multiply-adds × 2 of the forward pass.
        public var forwardFlops: Double {
            2 * Double(geometry.outChannels) * Double(geometry.patchSize) * Double(batch * output.height * output.width)
        }
    }

    /// One per shape; `canopy bench kernels --json` writes it as it is (the shape by its name).
    public struct Row: Sendable, Encodable {
        public var shape: Shape
        public var forwardGflops: Double
        public var forwardSgemmGflops: Double
        public var backwardGflops: Double
        public var backwardSgemmGflops: Double
        public var perImageForwardGflops: Double
        /// The backward pass without Winograd or the small-map GEMM, with the input gradient by fold rather than the transposed
        /// convolution (equal to `directBackwardGflops` for strided shapes).
        public var foldBackwardGflops: Double
        /// Forward and backward by the unfolded GEMM, without Winograd or the small-map GEMM (equal to the
        /// above where neither applies). GFLOP/s are
        /// effective throughout: the direct method's FLOPs over the time, so Winograd can pass sgemm.
        public var directForwardGflops: Double
        public var directBackwardGflops: Double
    }

    public var shapes: [Shape]
    public var rounds: Int

    public init(shapes: [Shape], rounds: Int = 5) {
        self.shapes = shapes
        self.rounds = rounds
    }

    /// The distinct convolutions of a torchvision ResNet-18 at `size` px (each listed once).
    public static func resNet18Shapes(size: Int, batch: Int) -> [Shape] {
        var shapes = [Shape(name: "conv1 7x7/2", geometry: .init(inChannels: 3, outChannels: 64, kernel: 7, stride: 2, padding: 3),
                            batch: batch, height: size, width: size)]
        var side = (size + 1) / 2 / 2  // stem conv stride 2, then max pool stride 2
        var channels = 64
        for (stage, width) in [64, 128, 256, 512].enumerated() {
            let stride = stage == 0 ? 1 : 2
            let name = "layer\(stage + 1)"
            shapes.append(Shape(name: "\(name).0.conv1 3x3/\(stride)",
                                geometry: .init(inChannels: channels, outChannels: width, kernel: 3, stride: stride, padding: 1),
                                batch: batch, height: side, width: side))
            if stride == 2 {
                shapes.append(Shape(name: "\(name).0.downsample 1x1/2",
                                    geometry: .init(inChannels: channels, outChannels: width, kernel: 1, stride: 2),
                                    batch: batch, height: side, width: side))
                side = (side + 1) / 2
            }
            shapes.append(Shape(name: "\(name) 3x3/1", geometry: .init(inChannels: width, outChannels: width, kernel: 3, padding: 1),
                                batch: batch, height: side, width: side))
            channels = width
        }
        return shapes
    }

    public func run() -> [Row] {
        shapes.map { shape in
            var rng = SeededRandom(seed: 1)
            let g = shape.geometry, (ho, wo) = shape.output
            let x = Tensor(shape: [g.inChannels, shape.batch, shape.height, shape.width],
                           scalars: (0..<(g.inChannels * shape.batch * shape.height * shape.width)).map { _ in rng.nextUniform() - 0.5 })
            let weight = Tensor(shape: [g.outChannels, g.inChannels, g.kernel.height, g.kernel.width],
                                scalars: (0..<(g.outChannels * g.patchSize)).map { _ in rng.nextUniform() - 0.5 })
            let dy = Tensor(shape: [g.outChannels, shape.batch, ho, wo], repeating: 0.01)
            var workspace: [Float] = []
            var weightGradient = Tensor(shape: weight.shape)
            var noBias: Tensor? = nil
            let m = g.outChannels, n = shape.batch * ho * wo, k = g.patchSize
            // Every GEMM below reads and writes within the largest of the three matrix sizes.
            let largest = max(m * n, m * k, k * n)
            var a = (0..<largest).map { _ in rng.nextUniform() - 0.5 }, b = (0..<largest).map { _ in rng.nextUniform() - 0.5 }
            var c = [Float](repeating: 0, count: largest)

            let forward = { _ = Convolution.forward(x, weight: weight, bias: nil, geometry: g, workspace: &workspace) }
            let backward = {
                _ = Convolution.backward(dy, input: x, weight: weight, geometry: g, weightGradient: &weightGradient,
                                         biasGradient: &noBias, workspace: &workspace)
            }
            let forwardGemm = { gemm(&a, &b, &c, m: m, n: n, k: k) }
            let backwardGemm = {  // dW = dY × colsᵀ and dCols = Wᵀ × dY
                gemm(&a, &b, &c, transposeB: true, m: m, n: k, k: n)
                gemm(&a, &b, &c, transposeA: true, m: k, n: n, k: m)
            }
            let perImage = { perImageForward(x: x, weight: weight, geometry: g, workspace: &workspace) }
            func direct(_ body: @escaping () -> Void) -> () -> Void {
                { EngineSettings.adjusting({ $0.winograd.enabled = false; $0.smallMaps.enabled = false }, body) }
            }
            let foldBackward = direct {
                EngineSettings.adjusting({ $0.convolution.transposedInputGradient = false }, backward)
            }

            let times = alternate([forward, forwardGemm, backward, backwardGemm, perImage, foldBackward, direct(forward), direct(backward)],
                                  rounds: rounds)
            let flops = shape.forwardFlops
            return Row(shape: shape, forwardGflops: flops / times[0] / 1e9, forwardSgemmGflops: flops / times[1] / 1e9,
                       backwardGflops: 2 * flops / times[2] / 1e9, backwardSgemmGflops: 2 * flops / times[3] / 1e9,
                       perImageForwardGflops: flops / times[4] / 1e9, foldBackwardGflops: 2 * flops / times[5] / 1e9,
                       directForwardGflops: flops / times[6] / 1e9, directBackwardGflops: 2 * flops / times[7] / 1e9)
        }
    }

    /// Median seconds of each body over `rounds`, after one warm-up, the order rotating every round.
    private func alternate(_ bodies: [() -> Void], rounds: Int) -> [Double] {
        for body in bodies { body() }
        var samples = Array(repeating: [Double](), count: bodies.count)
        for round in 0..<rounds {
            for offset in 0..<bodies.count {
                let index = (round + offset) % bodies.count
                samples[index].append(timed(bodies[index]))
            }
        }
        return samples.map(median)
    }

    private func gemm(_ a: inout [Float], _ b: inout [Float], _ c: inout [Float], transposeA: Bool = false,
                      transposeB: Bool = false, m: Int, n: Int, k: Int) {
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: ap.baseAddress!,
                              lda: transposeA ? m : k, b: bp.baseAddress!, ldb: transposeB ? k : n, c: cp.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// What an NCHW engine does: unfold and multiply one image at a time (N = Ho·Wo per GEMM).
    private func perImageForward(x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry, workspace: inout [Float]) {
        let (ho, wo) = g.outputSize(height: x.shape[2], width: x.shape[3])
        EngineSettings.adjusting({ $0.convolution.workspaceLimit = g.patchSize * ho * wo }) {  // one image per group
            perImageForward(x: x, weight: weight, geometry: g, ho: ho, wo: wo, workspace: &workspace)
        }
    }

    private func perImageForward(x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry, ho: Int, wo: Int,
                                 workspace: inout [Float]) {
        if g.isPointwise {
            // The batch-wide path has no unfold for 1x1; per image it is still one GEMM per image.
            let n = x.shape[1], plane = ho * wo
            var y = [Float](repeating: 0, count: g.outChannels * plane)
            var image = [Float](repeating: 0, count: g.inChannels * plane)
            for i in 0..<n {
                for c in 0..<g.inChannels {
                    for p in 0..<plane { image[c * plane + p] = x.scalars[(c * n + i) * plane + p] }
                }
                weight.scalars.withUnsafeBufferPointer { wp in
                    image.withUnsafeBufferPointer { ip in
                        y.withUnsafeMutableBufferPointer { yp in
                            BLAS.gemm(m: g.outChannels, n: plane, k: g.inChannels, a: wp.baseAddress!, lda: g.inChannels,
                                      b: ip.baseAddress!, ldb: plane, c: yp.baseAddress!, ldc: plane)
                        }
                    }
                }
            }
            return
        }
        _ = Convolution.forward(x, weight: weight, bias: nil, geometry: g, workspace: &workspace)
    }
}

extension KernelBenchmark.Shape: Encodable {
    /// A shape in JSON: its name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}
