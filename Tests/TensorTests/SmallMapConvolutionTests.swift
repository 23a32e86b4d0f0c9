import Tensor
import XCTest

/// Convolutions on 2x2 and 1x1 maps by their taps' GEMMs (`SmallMapConvolution`) against the loops, with
/// the tap matrices made for the call and prepared by a plan (kept across inference passes, and from a
/// training forward pass to its backward pass).
final class SmallMapConvolutionTests: XCTestCase {
    /// ResNet's layer4 at 64 px and at 32 px, a stride-2 layer to a 1x1 map, a map of one row, a kernel
    /// larger than the map with a stride (pairs outside the kernel: no product), and no padding one way.
    private let cases: [(ConvolutionGeometry, h: Int, w: Int)] = [
        (ConvolutionGeometry(inChannels: 6, outChannels: 7, kernel: 3, stride: 1, padding: 1), 2, 2),
        (ConvolutionGeometry(inChannels: 5, outChannels: 3, kernel: 3, stride: 1, padding: 1), 1, 1),
        (ConvolutionGeometry(inChannels: 4, outChannels: 9, kernel: 3, stride: 2, padding: 1), 2, 2),
        (ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1), 1, 2),
        (ConvolutionGeometry(inChannels: 2, outChannels: 4, kernel: 5, stride: 3, padding: 2), 2, 3),
        (ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: (3, 3), stride: (1, 1), padding: (0, 1)), 3, 1),
        (ConvolutionGeometry(inChannels: 5, outChannels: 6, kernel: 3, stride: 2, padding: 1), 4, 4),
        (ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 2, padding: 1), 8, 8),
        (ConvolutionGeometry(inChannels: 4, outChannels: 5, kernel: 3, stride: 1, padding: 1), 4, 4),
    ]

    private struct Fixture {
        let x: Tensor, weight: Tensor, bias: Tensor, dy: Tensor
    }

    private func fixture(_ g: ConvolutionGeometry, n: Int, h: Int, w: Int, seed: UInt64) -> Fixture {
        var rng = SeededRandom(seed: seed)
        let x = ConvolutionReference.random([g.inChannels, n, h, w], &rng)
        let weight = ConvolutionReference.random([g.outChannels, g.inChannels, g.kernel.height, g.kernel.width], &rng)
        let bias = ConvolutionReference.random([g.outChannels], &rng)
        let (ho, wo) = g.outputSize(height: h, width: w)
        return Fixture(x: x, weight: weight, bias: bias, dy: ConvolutionReference.random([g.outChannels, n, ho, wo], &rng))
    }

    func testWhereTheTapsApply() {
        let settings = EngineSettings.SmallMapSettings()
        let layer4 = ConvolutionGeometry(inChannels: 512, outChannels: 512, kernel: 3, stride: 1, padding: 1)
        let strided = ConvolutionGeometry(inChannels: 256, outChannels: 512, kernel: 3, stride: 2, padding: 1)
        XCTAssertEqual(settings.productShare(of: layer4, height: 2, width: 2), 16.0 / 36, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: layer4, height: 1, width: 1), 1.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: layer4, height: 4, width: 4), 100.0 / 144, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: layer4, height: 8, width: 8), 484.0 / 576, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: strided, height: 4, width: 4), 25.0 / 36, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: strided, height: 8, width: 8), 121.0 / 144, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: strided, height: 16, width: 16), 529.0 / 576, accuracy: 1e-12)
        XCTAssertEqual(settings.productShare(of: ConvolutionGeometry(inChannels: 1, outChannels: 1, kernel: 3), height: 9, width: 9), 1)
        for training in [false, true] {
            XCTAssertTrue(settings.applies(to: layer4, height: 2, width: 2, training: training))
            XCTAssertTrue(settings.applies(to: layer4, height: 1, width: 1, training: training))
            XCTAssertTrue(settings.applies(to: strided, height: 4, width: 4, training: training))
            XCTAssertTrue(settings.applies(to: strided, height: 8, width: 8, training: training))
            XCTAssertFalse(settings.applies(to: strided, height: 16, width: 16, training: training), "0.92 of the products")
            XCTAssertFalse(settings.applies(to: layer4, height: 8, width: 8, training: training), "Winograd's")
            XCTAssertFalse(settings.applies(to: ConvolutionGeometry(inChannels: 8, outChannels: 8, kernel: 1), height: 1, width: 1,
                                            training: training), "a 1x1 kernel has nothing to skip")
        }
        XCTAssertEqual(settings.productShare(of: layer4, height: 6, width: 6), 256.0 / 324, accuracy: 1e-12)
        for side in [3, 4, 6] {
            XCTAssertTrue(settings.applies(to: layer4, height: side, width: side, training: true), "training: the taps, \(side)x\(side)")
            XCTAssertFalse(settings.applies(to: layer4, height: side, width: side, training: false), "inference: Winograd's kept U")
        }
        var off = settings
        off.enabled = false
        XCTAssertFalse(off.applies(to: layer4, height: 2, width: 2))
    }

    /// Tap matrices made for the call, on one worker, two and three (slices of one or two channels, an
    /// empty one where a worker has none); with and without the input gradient.
    func testEveryWorkerCountAgainstTheLoops() {
        for (index, (g, h, w)) in cases.enumerated() {
            let f = fixture(g, n: 3, h: h, w: w, seed: UInt64(40 + index))
            let expected = ConvolutionReference.forward(f.x, f.weight, f.bias, g)
            let reference = ConvolutionReference.backward(f.dy, f.x, f.weight, g)
            for workers in [1, 2, 3] {
                var settings = EngineSettings()
                settings.workers = workers
                settings.minimumWorkPerChunk = 1
                let label = "\(g) on \(h)x\(w), \(workers) workers"
                EngineSettings.with(settings) {
                    var workspace: [Float] = []
                    let y = SmallMapConvolution.forward(f.x, weight: f.weight, prepared: nil, bias: f.bias, geometry: g,
                                                        workspace: &workspace)
                    XCTAssertEqual(y.shape, expected.shape, label)
                    XCTAssertLessThan(y.maxDifference(from: expected).absolute, 1e-4, "forward, \(label)")
                    for inputGradient in [true, false] {
                        var dw = Tensor(shape: f.weight.shape)
                        let dx = SmallMapConvolution.backward(f.dy, input: f.x, weight: f.weight, prepared: nil, geometry: g,
                                                              weightGradient: &dw, inputGradient: inputGradient,
                                                              workspace: &workspace)
                        if inputGradient {
                            XCTAssertLessThan(dx.maxDifference(from: reference.dx).absolute, 1e-4, "dx, \(label)")
                        } else {
                            XCTAssertEqual(dx.count, 0, "no input gradient asked, \(label)")
                        }
                        XCTAssertLessThan(dw.maxDifference(from: reference.dw).absolute, 1e-3, "dw, \(label)")
                    }
                }
            }
        }
    }

    /// The weight gradient accumulates into what the caller's tensor already holds, as on every path.
    func testTheWeightGradientAccumulates() {
        let (g, h, w) = cases[0]
        let f = fixture(g, n: 2, h: h, w: w, seed: 7)
        let reference = ConvolutionReference.backward(f.dy, f.x, f.weight, g)
        var workspace: [Float] = []
        var dw = Tensor(shape: f.weight.shape, repeating: 1)
        var db: Tensor?
        _ = Convolution.backward(f.dy, input: f.x, weight: f.weight, geometry: g, weightGradient: &dw, biasGradient: &db,
                                 workspace: &workspace)
        let shifted = Tensor(shape: reference.dw.shape, scalars: reference.dw.scalars.map { $0 + 1 })
        XCTAssertLessThan(dw.maxDifference(from: shifted).absolute, 1e-3)
    }

    /// Prepared tap matrices against the loops, their size (the taps some pair uses), and a layer's
    /// plan keeping them across inference passes until the weight changes.
    func testPreparedWeightsGiveTheSameOutput() {
        for (index, (g, h, w)) in cases.enumerated() {
            let f = fixture(g, n: 3, h: h, w: w, seed: UInt64(60 + index))
            let prepared = SmallMapConvolution.prepare(f.weight, for: g, height: h, width: w)
            let (ho, wo) = g.outputSize(height: h, width: w)
            var used = Set<Int>()
            for oy in 0..<ho {
                for ox in 0..<wo {
                    for iy in 0..<h {
                        for ix in 0..<w {
                            let ky = iy - oy * g.stride.height + g.padding.height, kx = ix - ox * g.stride.width + g.padding.width
                            if (0..<g.kernel.height).contains(ky) && (0..<g.kernel.width).contains(kx) { used.insert(ky * g.kernel.width + kx) }
                        }
                    }
                }
            }
            XCTAssertEqual(prepared.byteCount, used.count * g.outChannels * g.inChannels * MemoryLayout<Float>.stride, "\(g) on \(h)x\(w)")
            var workspace: [Float] = []
            let y = SmallMapConvolution.forward(f.x, weight: f.weight, prepared: prepared, bias: f.bias, geometry: g, workspace: &workspace)
            let expected = ConvolutionReference.forward(f.x, f.weight, f.bias, g)
            XCTAssertLessThan(y.maxDifference(from: expected).absolute, 1e-4, "\(g) on \(h)x\(w)")

            // Inference takes the taps where they apply outside training (not the stride-1 4x4 case).
            guard EngineSettings.current.smallMaps.applies(to: g, height: h, width: w) else { continue }
            let plan = ConvolutionPlan(g)
            let first = plan.forward(f.x, weight: f.weight, weightVersion: 1, bias: f.bias, training: false)
            XCTAssertEqual(first.scalars, y.scalars, "the plan prepares the same tap matrices")
            let halved = Tensor(shape: f.weight.shape, scalars: f.weight.scalars.map { $0 / 2 })
            XCTAssertEqual(plan.forward(f.x, weight: halved, weightVersion: 1, bias: f.bias, training: false).scalars, first.scalars,
                           "the same version: the kept tap matrices")
            let second = plan.forward(f.x, weight: halved, weightVersion: 2, bias: f.bias, training: false)
            XCTAssertLessThan(second.maxDifference(from: ConvolutionReference.forward(f.x, halved, f.bias, g)).absolute, 1e-4,
                              "a new version: the tap matrices made again")
        }
    }

    /// A plan's training step (the tap matrices made by the forward pass and used by the backward pass's
    /// input gradient, the input held for the weight gradient) against the loops, and the same step with
    /// the matrices made in each pass.
    func testATrainingStepThroughAPlan() {
        let (g, h, w) = cases[0]
        let f = fixture(g, n: 4, h: h, w: w, seed: 9)
        let plan = ConvolutionPlan(g)
        let y = plan.forward(f.x, weight: f.weight, weightVersion: 1, bias: f.bias, training: true)
        XCTAssertTrue(plan.holdsInput)
        XCTAssertLessThan(y.maxDifference(from: ConvolutionReference.forward(f.x, f.weight, f.bias, g)).absolute, 1e-4)
        var dw = Tensor(shape: f.weight.shape)
        var db: Tensor? = Tensor(shape: [g.outChannels])
        let dx = plan.backward(f.dy, weight: f.weight, weightVersion: 1, weightGradient: &dw, biasGradient: &db, inputGradient: true)
        let reference = ConvolutionReference.backward(f.dy, f.x, f.weight, g)
        XCTAssertLessThan(dx.maxDifference(from: reference.dx).absolute, 1e-4)
        XCTAssertLessThan(dw.maxDifference(from: reference.dw).absolute, 1e-3)

        var workspace: [Float] = []
        var unpreparedDw = Tensor(shape: f.weight.shape)
        var unpreparedDb: Tensor? = Tensor(shape: [g.outChannels])
        let unpreparedDx = Convolution.backward(f.dy, input: f.x, weight: f.weight, geometry: g, weightGradient: &unpreparedDw,
                                                biasGradient: &unpreparedDb, workspace: &workspace)
        XCTAssertEqual(unpreparedDx.scalars, dx.scalars, "the same tap matrices, made in the pass")
        XCTAssertEqual(unpreparedDw.scalars, dw.scalars)
    }

    /// Off, the same convolution takes the unfolded GEMM: the two agree within rounding.
    func testTheDirectPathAgrees() {
        let (g, h, w) = cases[0]
        let f = fixture(g, n: 3, h: h, w: w, seed: 11)
        func run(_ enabled: Bool) -> Tensor {
            EngineSettings.adjusting({ $0.smallMaps.enabled = enabled }) {
                var workspace: [Float] = []
                return Convolution.forward(f.x, weight: f.weight, bias: f.bias, geometry: g, workspace: &workspace)
            }
        }
        XCTAssertLessThan(run(true).maxDifference(from: run(false)).absolute, 1e-5)
    }
}
