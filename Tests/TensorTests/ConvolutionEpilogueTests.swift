import Tensor
import XCTest

/// A convolution's inference epilogue (folded batch norm, residual, ReLU) on every path, against the
/// plain convolution followed by the same arithmetic as separate passes.
final class ConvolutionEpilogueTests: XCTestCase {
    private func random(_ shape: [Int], _ rng: inout SeededRandom, scale: Float = 1) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in (rng.nextUniform() * 2 - 1) * scale })
    }

    /// y = max?(scale·conv + shift + residual, 0), written as the layers after the convolution would.
    private func separately(_ plain: Tensor, _ e: ConvolutionEpilogue) -> Tensor {
        let channels = plain.shape[0], run = plain.count / channels
        var y = plain
        for o in 0..<channels {
            for i in 0..<run {
                var v = plain.scalars[o * run + i] * e.scale[o] + e.shift[o]
                if let r = e.residual { v += r.scalars[o * run + i] }
                y.scalars[o * run + i] = e.relu ? max(v, 0) : v
            }
        }
        return y
    }

    private func check(_ g: ConvolutionGeometry, n: Int, h: Int, w: Int, settings: EngineSettings = EngineSettings(),
                       path: String, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(g.outChannels * 13 + h * 5 + w))
        let x = random([g.inChannels, n, h, w], &rng)
        let weight = random([g.outChannels, g.inChannels, g.kernel.height, g.kernel.width], &rng, scale: 0.1)
        let (ho, wo) = g.outputSize(height: h, width: w)
        let shape = [g.outChannels, n, ho, wo]
        EngineSettings.with(settings) {
            var workspace: [Float] = []
            let plain = Convolution.forward(x, weight: weight, bias: nil, geometry: g, workspace: &workspace)
            for (residual, relu) in [(false, false), (false, true), (true, false), (true, true)] {
                let epilogue = ConvolutionEpilogue(scale: (0..<g.outChannels).map { _ in rng.nextUniform() + 0.5 },
                                                   shift: (0..<g.outChannels).map { _ in rng.nextUniform() - 0.5 },
                                                   residual: residual ? random(shape, &rng) : nil, relu: relu)
                let fused = Convolution.forward(x, weight: weight, bias: nil, geometry: g, epilogue: epilogue, workspace: &workspace)
                let expected = separately(plain, epilogue)
                XCTAssertLessThan(fused.maxDifference(from: expected).absolute, 1e-4,
                                  "\(path): residual \(residual), ReLU \(relu)", file: file, line: line)
                if relu { XCTAssertTrue(fused.scalars.contains(0), "\(path): the ReLU cut something", file: file, line: line) }
            }
        }
    }

    func testWinogradF4x4AppliesItInItsOutputPass() {
        let g = ConvolutionGeometry(inChannels: 64, outChannels: 64, kernel: 3, stride: 1, padding: 1)
        XCTAssertTrue(EngineSettings.current.winograd.applies(to: g, outputPixels: 64))
        check(g, n: 2, h: 8, w: 8, path: "F(4x4) 8x8")
        // Eight tiles side by side (the four-row stores) and edge tiles (staged) in one map.
        check(g, n: 2, h: 36, w: 35, path: "F(4x4) 36x35")
    }

    func testWinogradF2x2() {
        let g = ConvolutionGeometry(inChannels: 64, outChannels: 64, kernel: 3, stride: 1, padding: 1)
        check(g, n: 2, h: 9, w: 7, settings: EngineSettings().with { $0.winograd.variant = .f2x2 }, path: "F(2x2) 9x7")
    }

    func testSmallMapsDirectAndPointwise() {
        let small = ConvolutionGeometry(inChannels: 8, outChannels: 6, kernel: 3, stride: 1, padding: 1)
        XCTAssertTrue(EngineSettings.current.smallMaps.applies(to: small, height: 2, width: 2))
        check(small, n: 3, h: 2, w: 2, path: "small map")
        check(small, n: 2, h: 2, w: 2, settings: EngineSettings().with { $0.smallMaps.enabled = false }, path: "direct on a small map")
        let strided = ConvolutionGeometry(inChannels: 5, outChannels: 7, kernel: 3, stride: 2, padding: 1)
        XCTAssertTrue(EngineSettings.current.smallMaps.applies(to: strided, height: 9, width: 8))
        check(strided, n: 2, h: 9, w: 8, path: "small map stride 2")
        XCTAssertFalse(EngineSettings.current.smallMaps.applies(to: strided, height: 20, width: 18))
        check(strided, n: 2, h: 20, w: 18, path: "direct stride 2")
        check(ConvolutionGeometry(inChannels: 5, outChannels: 7, kernel: 1), n: 2, h: 5, w: 6, path: "pointwise")
        check(ConvolutionGeometry(inChannels: 5, outChannels: 7, kernel: 1, stride: 2), n: 2, h: 5, w: 6, path: "pointwise stride 2")
    }

    func testDirectPathAppliesItToEachWorkersGroupOrBand() {
        var settings = EngineSettings()
        settings.smallMaps.enabled = false
        settings.convolution.minimumWorkerColumns = 1
        // Groups of two images (five images: the last group short), each worker applying the epilogue to
        // its own group's columns.
        let strided = ConvolutionGeometry(inChannels: 5, outChannels: 7, kernel: 3, stride: 2, padding: 1)
        settings.convolution.workerGroupFloats = 2 * 90 * strided.patchSize
        XCTAssertEqual(Convolution.workerGroupImages(n: 5, columnsPerImage: 90, k: strided.patchSize, settings: settings),
                       settings.workers > 1 ? 2 : nil)
        check(strided, n: 5, h: 20, w: 18, settings: settings, path: "direct stride 2, worker groups")
        // A stem-like 7x7/2 convolution in bands of three output rows of 7 (the last band one row).
        let stem = ConvolutionGeometry(inChannels: 3, outChannels: 8, kernel: 7, stride: 2, padding: 3)
        settings.convolution.workerGroupFloats = 3 * 7 * stem.patchSize
        XCTAssertEqual(Convolution.workerBandRows(outputHeight: 7, outputWidth: 7, k: stem.patchSize, settings: settings), 3)
        check(stem, n: 3, h: 13, w: 13, settings: settings, path: "stem, bands of rows")
    }

    /// An epilogue that ends in a max pool: the convolution, the epilogue and the pool as separate
    /// passes, for a stem in bands of rows (three images on two workers), whole images, a residual and
    /// ceil mode, and the paths that pool after writing the whole output (Winograd, a pointwise one).
    func testAnEpilogueThatPoolsIsTheConvolutionThenThePool() {
        func check(_ g: ConvolutionGeometry, n: Int, h: Int, w: Int, pooling: PoolingGeometry, residual: Bool = false,
                   settings: EngineSettings, path: String, line: UInt = #line) {
            var rng = SeededRandom(seed: UInt64(g.outChannels * 7 + h))
            let x = random([g.inChannels, n, h, w], &rng)
            let weight = random([g.outChannels, g.inChannels, g.kernel.height, g.kernel.width], &rng, scale: 0.1)
            let (ho, wo) = g.outputSize(height: h, width: w)
            EngineSettings.with(settings) {
                var workspace: [Float] = []
                let epilogue = ConvolutionEpilogue(scale: (0..<g.outChannels).map { _ in rng.nextUniform() + 0.5 },
                                                   shift: (0..<g.outChannels).map { _ in rng.nextUniform() - 0.5 },
                                                   residual: residual ? random([g.outChannels, n, ho, wo], &rng) : nil, relu: true)
                var pooled = epilogue
                pooled.pooling = pooling
                let plain = Convolution.forward(x, weight: weight, bias: nil, geometry: g, workspace: &workspace)
                let expected = MaxPooling.forward(separately(plain, epilogue), geometry: pooling, recordingArgmax: false).output
                let fused = Convolution.forward(x, weight: weight, bias: nil, geometry: g, epilogue: pooled, workspace: &workspace)
                XCTAssertEqual(fused.shape, expected.shape, path, line: line)
                XCTAssertLessThan(fused.maxDifference(from: expected).absolute, 1e-4, path, line: line)
            }
        }
        var settings = EngineSettings()
        settings.workers = 2
        settings.convolution.minimumWorkerColumns = 1
        settings.convolution.pooledInCacheFloats = 0
        let stem = ConvolutionGeometry(inChannels: 3, outChannels: 8, kernel: 7, stride: 2, padding: 3)
        let resnetPool = PoolingGeometry(kernel: 3, stride: 2, padding: 1)
        settings.convolution.workerGroupFloats = 3 * 7 * stem.patchSize
        XCTAssertEqual(Convolution.workerBandRows(outputHeight: 7, outputWidth: 7, k: stem.patchSize, settings: settings), 3)
        check(stem, n: 3, h: 13, w: 13, pooling: resnetPool, settings: settings, path: "stem in bands of rows")
        settings.convolution.workerGroupFloats = EngineSettings().convolution.workerGroupFloats
        check(stem, n: 3, h: 13, w: 14, pooling: resnetPool, residual: true, settings: settings, path: "whole images, a residual")
        check(stem, n: 1, h: 20, w: 17, pooling: PoolingGeometry(kernel: 3, stride: 2, ceilMode: true), settings: settings,
              path: "one image, ceil mode")
        let winograd = ConvolutionGeometry(inChannels: 64, outChannels: 64, kernel: 3, stride: 1, padding: 1)
        check(winograd, n: 2, h: 8, w: 8, pooling: PoolingGeometry(kernel: 2), settings: settings, path: "Winograd, then the pool")
        check(ConvolutionGeometry(inChannels: 5, outChannels: 7, kernel: 1), n: 2, h: 6, w: 6, pooling: PoolingGeometry(kernel: 2),
              settings: settings, path: "pointwise, then the pool")
    }

    /// The batch norm's scale and shift as its inference pass computes them, the convolution's bias folded in.
    func testTheBatchNormInitialiserFoldsTheBias() {
        let gamma = Tensor(shape: [2], scalars: [2, -1]), beta = Tensor(shape: [2], scalars: [0.5, 1])
        let mean = Tensor(shape: [2], scalars: [1, -2]), variance = Tensor(shape: [2], scalars: [3, 0.25])
        let bias = Tensor(shape: [2], scalars: [0.25, 4])
        let e = ConvolutionEpilogue(batchNorm: gamma, beta: beta, runningMean: mean, runningVariance: variance, epsilon: 1,
                                    convolutionBias: bias, relu: true)
        // γ/√(σ² + ε): 2/2, −1/√1.25; β − μ·scale + bias·scale.
        XCTAssertEqual(e.scale[0], 1)
        XCTAssertEqual(e.scale[1], -1 / Float(1.25).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(e.shift[0], 0.5 - 1 + 0.25, accuracy: 1e-7)
        XCTAssertEqual(e.shift[1], 1 + 2 * e.scale[1] + 4 * e.scale[1], accuracy: 1e-6)
        XCTAssertTrue(e.relu)
        XCTAssertNil(e.residual)
    }
}
