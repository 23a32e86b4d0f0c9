import Tensor
import XCTest

/// Convolutions on 2x2 and 1x1 maps as one dense GEMM (`SmallMapConvolution`) against the loops, on
/// both of its paths: W″ made block by block in the workers (training) and W″ prepared whole (inference).
final class SmallMapConvolutionTests: XCTestCase {
    /// ResNet's layer4 at 64 px and at 32 px, a stride-2 layer to a 1x1 map, a map of one row, a kernel
    /// larger than the map with a stride (taps outside the kernel: zeros in W″), and no padding one way.
    private let cases: [(ConvolutionGeometry, h: Int, w: Int)] = [
        (ConvolutionGeometry(inChannels: 6, outChannels: 7, kernel: 3, stride: 1, padding: 1), 2, 2),
        (ConvolutionGeometry(inChannels: 5, outChannels: 3, kernel: 3, stride: 1, padding: 1), 1, 1),
        (ConvolutionGeometry(inChannels: 4, outChannels: 9, kernel: 3, stride: 2, padding: 1), 2, 2),
        (ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1), 1, 2),
        (ConvolutionGeometry(inChannels: 2, outChannels: 4, kernel: 5, stride: 3, padding: 2), 2, 3),
        (ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: (3, 3), stride: (1, 1), padding: (0, 1)), 3, 1),
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

    func testTheCasesTakeTheSmallMapPathAndLargerMapsDoNot() {
        let settings = EngineSettings.SmallMapSettings()
        for (g, h, w) in cases { XCTAssertTrue(settings.applies(to: g, height: h, width: w), "\(g) on \(h)x\(w)") }
        let layer4 = ConvolutionGeometry(inChannels: 512, outChannels: 512, kernel: 3, stride: 1, padding: 1)
        XCTAssertTrue(settings.applies(to: layer4, height: 2, width: 2))
        XCTAssertFalse(settings.applies(to: layer4, height: 4, width: 4), "4x4 maps: 16 products a pair against 9")
        XCTAssertFalse(settings.applies(to: layer4, height: 3, width: 3))
        XCTAssertFalse(settings.applies(to: ConvolutionGeometry(inChannels: 8, outChannels: 8, kernel: 1), height: 1, width: 1),
                       "a 1x1 kernel has nothing to skip")
        var capped = settings
        capped.maximumDenseFloats = 512 * 4 * 512 * 4 - 1
        XCTAssertFalse(capped.applies(to: layer4, height: 2, width: 2), "W″ over the cap")
        var off = settings
        off.enabled = false
        XCTAssertFalse(off.applies(to: layer4, height: 2, width: 2))
    }

    /// The blocked path (no prepared W″), on one worker and on two, with blocks of one output channel
    /// (an odd count: one worker takes a block more) and of the default size; with and without the
    /// input gradient.
    func testBlocksOnEveryWorkerAgainstTheLoops() {
        for (index, (g, h, w)) in cases.enumerated() {
            let f = fixture(g, n: 3, h: h, w: w, seed: UInt64(40 + index))
            let expected = ConvolutionReference.forward(f.x, f.weight, f.bias, g)
            let reference = ConvolutionReference.backward(f.dy, f.x, f.weight, g)
            let (ho, wo) = g.outputSize(height: h, width: w)
            for workers in [1, 2] {
                for perBlock in [1, g.outChannels] {
                    var settings = EngineSettings()
                    settings.workers = workers
                    settings.smallMaps.blockFloats = perBlock * ho * wo * g.inChannels * h * w
                    let label = "\(g) on \(h)x\(w), \(workers) workers, blocks of \(perBlock) channels"
                    EngineSettings.with(settings) {
                        var workspace: [Float] = []
                        let y = Convolution.forward(f.x, weight: f.weight, bias: f.bias, geometry: g, workspace: &workspace)
                        XCTAssertEqual(y.shape, expected.shape, label)
                        XCTAssertLessThan(y.maxDifference(from: expected).absolute, 1e-4, "forward, \(label)")
                        for inputGradient in [true, false] {
                            var dw = Tensor(shape: f.weight.shape)
                            var db: Tensor? = Tensor(shape: [g.outChannels])
                            let dx = Convolution.backward(f.dy, input: f.x, weight: f.weight, geometry: g, weightGradient: &dw,
                                                          biasGradient: &db, workspace: &workspace, inputGradient: inputGradient)
                            if inputGradient {
                                XCTAssertLessThan(dx.maxDifference(from: reference.dx).absolute, 1e-4, "dx, \(label)")
                            } else {
                                XCTAssertEqual(dx.count, 0, "no input gradient asked, \(label)")
                            }
                            XCTAssertLessThan(dw.maxDifference(from: reference.dw).absolute, 1e-3, "dw, \(label)")
                            XCTAssertLessThan(db!.maxDifference(from: reference.db).absolute, 1e-3, "db, \(label)")
                        }
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

    /// Inference's whole W″ (one GEMM) against the loops and the blocked path, and a layer's plan
    /// keeping it across passes until the weight changes.
    func testPreparedWeightsGiveTheSameOutput() {
        for (index, (g, h, w)) in cases.enumerated() {
            let f = fixture(g, n: 3, h: h, w: w, seed: UInt64(60 + index))
            let prepared = SmallMapConvolution.prepare(f.weight, for: g, height: h, width: w)
            let (ho, wo) = g.outputSize(height: h, width: w)
            XCTAssertEqual(prepared.byteCount, g.outChannels * ho * wo * g.inChannels * h * w * MemoryLayout<Float>.stride)
            var workspace: [Float] = []
            let y = Convolution.forward(f.x, weight: f.weight, bias: f.bias, geometry: g, prepared: .smallMap(prepared),
                                        workspace: &workspace)
            let expected = ConvolutionReference.forward(f.x, f.weight, f.bias, g)
            XCTAssertLessThan(y.maxDifference(from: expected).absolute, 1e-4, "\(g) on \(h)x\(w)")

            let plan = ConvolutionPlan(g)
            let first = plan.forward(f.x, weight: f.weight, weightVersion: 1, bias: f.bias, training: false)
            XCTAssertEqual(first.scalars, y.scalars, "the plan prepares the same W″")
            let halved = Tensor(shape: f.weight.shape, scalars: f.weight.scalars.map { $0 / 2 })
            XCTAssertEqual(plan.forward(f.x, weight: halved, weightVersion: 1, bias: f.bias, training: false).scalars, first.scalars,
                           "the same version: the kept W″")
            let second = plan.forward(f.x, weight: halved, weightVersion: 2, bias: f.bias, training: false)
            XCTAssertLessThan(second.maxDifference(from: ConvolutionReference.forward(f.x, halved, f.bias, g)).absolute, 1e-4,
                              "a new version: W″ made again")
        }
    }

    /// A plan's training step (W″ made in blocks, the input held for the backward pass) against the loops.
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
