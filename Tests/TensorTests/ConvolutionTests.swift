import Tensor
import XCTest

/// Convolution through unfold + GEMM against a direct seven-loop convolution.
final class ConvolutionTests: XCTestCase {
    private func random(_ shape: [Int], _ rng: inout SeededRandom) -> Tensor { ConvolutionReference.random(shape, &rng) }

    private func naiveForward(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ g: ConvolutionGeometry) -> Tensor {
        ConvolutionReference.forward(x, w, b, g)
    }

    private func naiveBackward(_ dy: Tensor, _ x: Tensor, _ w: Tensor, _ g: ConvolutionGeometry) -> (dx: Tensor, dw: Tensor, db: Tensor) {
        ConvolutionReference.backward(dy, x, w, g)
    }

    /// `tolerance`: for outputs and input gradients (weight gradients, sums over more terms, get 10x).
    private func check(_ g: ConvolutionGeometry, n: Int, h: Int, w: Int, bias: Bool = true, workspaceLimit: Int? = nil,
                       tolerance: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: UInt64(g.patchSize * 31 + h * 7 + w))
        let x = random([g.inChannels, n, h, w], &rng)
        let weight = random([g.outChannels, g.inChannels, g.kernel.height, g.kernel.width], &rng)
        let b: Tensor? = bias ? random([g.outChannels], &rng) : nil
        EngineSettings.adjusting({ if let workspaceLimit { $0.convolution.workspaceLimit = workspaceLimit } }) {
            check(g, x: x, weight: weight, bias: b, tolerance: tolerance, rng: &rng, file: file, line: line)
        }
    }

    private func check(_ g: ConvolutionGeometry, x: Tensor, weight: Tensor, bias b: Tensor?, tolerance: Float,
                       rng: inout SeededRandom, file: StaticString, line: UInt) {
        let bias = b != nil
        var workspace: [Float] = []
        let y = Convolution.forward(x, weight: weight, bias: b, geometry: g, workspace: &workspace)
        let expected = naiveForward(x, weight, b, g)
        XCTAssertEqual(y.shape, expected.shape, file: file, line: line)
        XCTAssertLessThan(y.maxDifference(from: expected).absolute, tolerance, "forward \(g)", file: file, line: line)

        let dy = random(y.shape, &rng)
        var dw = Tensor(shape: weight.shape)
        var db: Tensor? = bias ? Tensor(shape: [g.outChannels]) : nil
        let dx = Convolution.backward(dy, input: x, weight: weight, geometry: g, weightGradient: &dw, biasGradient: &db,
                                      workspace: &workspace)
        let reference = naiveBackward(dy, x, weight, g)
        XCTAssertLessThan(dx.maxDifference(from: reference.dx).absolute, tolerance, "dx \(g)", file: file, line: line)
        XCTAssertLessThan(dw.maxDifference(from: reference.dw).absolute, 10 * tolerance, "dw \(g)", file: file, line: line)
        if let db { XCTAssertLessThan(db.maxDifference(from: reference.db).absolute, 1e-3, "db", file: file, line: line) }
    }

    func testThreeByThreeStrideOnePadOne() {
        check(ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1), n: 2, h: 7, w: 6)
    }

    // Winograd takes 3x3 stride-1 convolutions with enough channels each way. Both algorithms against
    // the loops: odd sizes (tiles hanging over the edge), every padding it accepts, several image
    // groups, maps narrower and wider than eight tiles (the SIMD paths and their edges), the
    // input gradient (the adjoint, with and without the weight gradient beside it).
    func testWinogradThreeByThreeAgainstTheLoops() {
        let wide = ConvolutionGeometry(inChannels: 256, outChannels: 256, kernel: 3, stride: 1, padding: 1)
        let defaults = EngineSettings.WinogradSettings()
        XCTAssertTrue(defaults.applies(to: wide, outputPixels: 64))
        XCTAssertTrue(defaults.appliesToWeightGradient(of: wide, outputPixels: 64))
        XCTAssertTrue(defaults.applies(to: wide, outputPixels: 16))
        XCTAssertFalse(defaults.appliesToWeightGradient(of: wide, outputPixels: 16))
        XCTAssertFalse(defaults.applies(to: wide, outputPixels: 4))
        XCTAssertTrue(defaults.applies(to: ConvolutionGeometry(inChannels: 64, outChannels: 64, kernel: 3, stride: 1, padding: 1), outputPixels: 1024))
        XCTAssertFalse(defaults.applies(to: ConvolutionGeometry(inChannels: 32, outChannels: 64, kernel: 3, stride: 1, padding: 1), outputPixels: 1024))
        XCTAssertFalse(defaults.applies(to: ConvolutionGeometry(inChannels: 256, outChannels: 256, kernel: 3, stride: 2, padding: 1), outputPixels: 64))
        // F(4x4, 3x3) rounds more (its transforms have sixths and its points reach ±2): sums of a few
        // hundred products near 10 in size come within 3e-4 of the loops, 3e-5 relative.
        for (variant, tolerance) in [(Winograd.Variant.f2x2, Float(1e-4)), (.f4x4, Float(3e-4))] {
            // Small shapes for the loops: lower the thresholds.
            var settings = EngineSettings()
            (settings.winograd.minimumChannels, settings.winograd.minimumOutputPixels) = (16, 1)
            (settings.winograd.minimumWeightGradientPixels, settings.winograd.variant) = (1, variant)
            settings.winograd.targetGroupFloats = 36 * 33 * 6  // one 7x5 image's tiles per group
            EngineSettings.with(settings) {
                check(ConvolutionGeometry(inChannels: 16, outChannels: 17, kernel: 3, stride: 1, padding: 1), n: 3, h: 7, w: 5,
                      tolerance: tolerance)
                check(ConvolutionGeometry(inChannels: 17, outChannels: 16, kernel: 3, stride: 1, padding: 0), n: 2, h: 6, w: 9,
                      tolerance: tolerance)
                check(ConvolutionGeometry(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 2), n: 2, h: 5, w: 4, bias: false,
                      tolerance: tolerance)
                // Wide enough for the eight-tile vector paths (and their scalar edges).
                check(ConvolutionGeometry(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 1), n: 2, h: 6, w: 41,
                      tolerance: tolerance)
                check(ConvolutionGeometry(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 1), n: 1, h: 9, w: 64,
                      tolerance: tolerance)
                // Exactly eight tiles a row (layer1 at 128 px): every group side by side, the last one
                // at the end of the last plane.
                check(ConvolutionGeometry(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 1), n: 2, h: 8, w: 32,
                      tolerance: tolerance)
            }
            settings.winograd.targetGroupFloats = defaults.targetGroupFloats
            EngineSettings.with(settings) {
                check(ConvolutionGeometry(inChannels: 32, outChannels: 24, kernel: 3, stride: 1, padding: 1), n: 4, h: 8, w: 8,
                      tolerance: tolerance)
            }
            // The input gradient by Winograd with the weight gradient left to the unfolded path (small maps).
            settings.winograd.minimumWeightGradientPixels = 1000
            EngineSettings.with(settings) {
                check(ConvolutionGeometry(inChannels: 16, outChannels: 20, kernel: 3, stride: 1, padding: 1), n: 3, h: 5, w: 7,
                      tolerance: tolerance)
            }
        }
    }

    /// Inference (no V kept) with each worker taking its own images through the whole pass: five images
    /// on two workers (two and three), in groups of two (the last one short), against the loops and
    /// against the groups of the whole batch; and a U over the worker group, which keeps the batch's groups.
    func testWinogradInferenceOnEachWorkerAgainstTheLoops() {
        var rng = SeededRandom(seed: 21)
        let g = ConvolutionGeometry(inChannels: 16, outChannels: 17, kernel: 3, stride: 1, padding: 1)
        let x = random([16, 5, 9, 7], &rng), weight = random([17, 16, 3, 3], &rng), b = random([17], &rng)
        let expected = naiveForward(x, weight, b, g)
        for (variant, tolerance) in [(Winograd.Variant.f2x2, Float(1e-4)), (.f4x4, Float(3e-4))] {
            var settings = EngineSettings()
            (settings.winograd.minimumChannels, settings.winograd.minimumOutputPixels, settings.winograd.variant) = (16, 1, variant)
            settings.workers = 2
            let positions = variant == .f2x2 ? 16 : 36, tilesPerImage = variant == .f2x2 ? 20 : 6
            settings.winograd.workerGroupFloats = 2 * positions * (16 + 17) * tilesPerImage + 1
            XCTAssertLessThanOrEqual(positions * 16 * 17, settings.winograd.workerGroupFloats, "U fits the worker group")
            var workspace: [Float] = []
            func forward(_ change: (inout EngineSettings) -> Void) -> Tensor {
                EngineSettings.with(settings.with(change)) {
                    Convolution.forward(x, weight: weight, bias: b, geometry: g, workspace: &workspace)
                }
            }
            let onEachWorker = forward { _ in }
            XCTAssertEqual(workspace.count, 2 * (settings.winograd.workerGroupFloats - 1), "\(variant): a group of two images a worker")
            XCTAssertLessThan(onEachWorker.maxDifference(from: expected).absolute, tolerance, "\(variant) on each worker")
            let batchGroups = forward { $0.winograd.groupsAcrossWorkers = false }
            XCTAssertLessThan(batchGroups.maxDifference(from: onEachWorker).absolute, tolerance, "\(variant): batch groups")
            let largeU = forward { $0.winograd.workerGroupFloats = positions * 16 * 17 - 1 }
            XCTAssertEqual(largeU.scalars, batchGroups.scalars, "\(variant): U over the worker group keeps the batch's groups")
            // More workers than images: the workers without an image stay out.
            let twoImages = Tensor(shape: [16, 2, 9, 7], scalars: Array(x.scalars[0..<(16 * 2 * 63)]))
            let fewer = EngineSettings.with(settings.with { $0.workers = 7 }) {
                Convolution.forward(twoImages, weight: weight, bias: b, geometry: g, workspace: &workspace)
            }
            XCTAssertLessThan(fewer.maxDifference(from: naiveForward(twoImages, weight, b, g)).absolute, tolerance, "\(variant): 7 workers, 2 images")
        }
    }

    /// The weight gradient alone (no bias, no input gradient) of one backward pass.
    private func weightGradient(_ dy: Tensor, input x: Tensor, weight: Tensor, geometry g: ConvolutionGeometry,
                                workspace: inout [Float], kept: Winograd.KeptInput? = nil) -> Tensor {
        var dw = Tensor(shape: weight.shape), db: Tensor? = nil
        _ = Convolution.backward(dy, input: x, weight: weight, geometry: g, weightGradient: &dw, biasGradient: &db,
                                 workspace: &workspace, inputGradient: false, kept: kept)
        return dw
    }

    /// A 3x3, stride-1, pad-1 convolution with random input, weights, bias and output gradient.
    private func winogradFixture(seed: UInt64, in ci: Int, out co: Int, n: Int, h: Int, w: Int)
        -> (ConvolutionGeometry, Tensor, Tensor, Tensor, Tensor) {
        var rng = SeededRandom(seed: seed)
        let g = ConvolutionGeometry(inChannels: ci, outChannels: co, kernel: 3, stride: 1, padding: 1)
        let x = random([ci, n, h, w], &rng), weight = random([co, ci, 3, 3], &rng), b = random([co], &rng)
        return (g, x, weight, b, random([co, n, h, w], &rng))
    }

    func testWinogradEqualsTheDirectPathWithinRounding() {
        let (g, x, weight, b, dy) = winogradFixture(seed: 9, in: 256, out: 256, n: 2, h: 8, w: 8)
        XCTAssertTrue(EngineSettings.WinogradSettings().applies(to: g, outputPixels: 64))
        var workspace: [Float] = []
        func run(_ variant: Winograd.Variant?) -> (output: Tensor, weightGradient: Tensor, inputGradient: Tensor) {
            EngineSettings.adjusting({
                $0.winograd.enabled = variant != nil
                if let variant { $0.winograd.variant = variant }
            }) { runUnderSettings() }
        }
        func runUnderSettings() -> (output: Tensor, weightGradient: Tensor, inputGradient: Tensor) {
            let y = Convolution.forward(x, weight: weight, bias: b, geometry: g, workspace: &workspace)
            var dw = Tensor(shape: weight.shape), db: Tensor? = nil
            let dx = Convolution.backward(dy, input: x, weight: weight, geometry: g, weightGradient: &dw, biasGradient: &db,
                                          workspace: &workspace)
            XCTAssertEqual(dw.scalars, weightGradient(dy, input: x, weight: weight, geometry: g, workspace: &workspace).scalars)
            return (y, dw, dx)
        }
        let direct = run(nil)
        let largest = direct.output.scalars.map(abs).max()!, largestGradient = direct.weightGradient.scalars.map(abs).max()!
        let largestInputGradient = direct.inputGradient.scalars.map(abs).max()!
        // Float rounding, relative to the largest value (sums of 2,304 products for outputs, 128 for
        // weight gradients): F(2x2, 3x3)'s transforms are exact in binary (halves), F(4x4, 3x3)'s
        // sixths and twenty-fourths round, and its larger interpolation points grow the error.
        for (variant, tolerance) in [(Winograd.Variant.f2x2, Float(2e-6)), (.f4x4, Float(2e-5))] {
            let fast = run(variant)
            XCTAssertLessThan(fast.output.maxDifference(from: direct.output).absolute, tolerance * largest,
                              "\(variant) outputs up to \(largest)")
            XCTAssertLessThan(fast.weightGradient.maxDifference(from: direct.weightGradient).absolute, tolerance * largestGradient,
                              "\(variant) weight gradients up to \(largestGradient)")
            XCTAssertLessThan(fast.inputGradient.maxDifference(from: direct.inputGradient).absolute, tolerance * largestInputGradient,
                              "\(variant) input gradients up to \(largestInputGradient)")
        }
    }

    /// A training forward pass keeps V for the weight gradient: the same outputs and weight gradients,
    /// bit for bit, as transforming the input again; V kept under another variant is not used.
    func testKeptWinogradInputGivesTheSameWeightGradient() {
        var rng = SeededRandom(seed: 18)  // for another input, unlike x
        let (g, x, weight, b, dy) = winogradFixture(seed: 17, in: 64, out: 72, n: 3, h: 9, w: 10)
        XCTAssertTrue(EngineSettings.WinogradSettings().appliesToWeightGradient(of: g, outputPixels: 90))
        for variant in Winograd.Variant.allCases {
            var settings = EngineSettings()
            settings.winograd.variant = variant
            EngineSettings.with(settings) { checkKeptInput(g, x, weight, b, dy, variant: variant, rng: &rng) }
        }
    }

    private func checkKeptInput(_ g: ConvolutionGeometry, _ x: Tensor, _ weight: Tensor, _ b: Tensor, _ dy: Tensor,
                                variant: Winograd.Variant, rng: inout SeededRandom) {
        do {
            var workspace: [Float] = []
            func weightGradient(_ kept: Winograd.KeptInput?) -> Tensor {
                self.weightGradient(dy, input: x, weight: weight, geometry: g, workspace: &workspace, kept: kept)
            }
            var kept: Winograd.KeptInput?
            let y = Convolution.forward(x, weight: weight, bias: b, geometry: g, keeping: &kept, workspace: &workspace)
            XCTAssertNotNil(kept)
            // The same groups without V kept give the same bits; inference's groups on each worker round
            // otherwise (other GEMMs).
            XCTAssertEqual(y.scalars, EngineSettings.adjusting({ $0.winograd.groupsAcrossWorkers = false }) {
                Convolution.forward(x, weight: weight, bias: b, geometry: g, workspace: &workspace)
            }.scalars)
            let inference = Convolution.forward(x, weight: weight, bias: b, geometry: g, workspace: &workspace)
            XCTAssertLessThan(inference.maxDifference(from: y).absolute, 1e-4)
            XCTAssertEqual(weightGradient(kept).scalars, weightGradient(nil).scalars, "\(variant)")
            // Kept for another input of the same shape: ignored.
            var otherKept: Winograd.KeptInput?
            let other = random(x.shape, &rng)
            _ = Convolution.forward(other, weight: weight, bias: b, geometry: g, keeping: &otherKept, workspace: &workspace)
            withExtendedLifetime(other) {
                XCTAssertEqual(weightGradient(otherKept).scalars, weightGradient(nil).scalars, "\(variant) kept for another input")
            }
            // Kept under one variant, used under the other: ignored, so still the right gradient.
            EngineSettings.adjusting({ $0.winograd.variant = variant == .f4x4 ? .f2x2 : .f4x4 }) {
                XCTAssertEqual(weightGradient(kept).scalars, weightGradient(nil).scalars, "\(variant) kept, other variant")
            }
            // A convolution Winograd does not take keeps nothing.
            let strided = ConvolutionGeometry(inChannels: 64, outChannels: 72, kernel: 3, stride: 2, padding: 1)
            _ = Convolution.forward(x, weight: weight, bias: b, geometry: strided, keeping: &kept, workspace: &workspace)
            XCTAssertNil(kept)
        }
    }

    /// A plan whose backward pass needs only V lets its input go after a training forward pass, and
    /// gives the same input and weight gradients, bit for bit, as the direct call with the input; a plan
    /// Winograd does not take (stride 2) keeps it.
    func testAPlanLetsItsInputGoWhereVIsKept() {
        let (g, x, weight, b, dy) = winogradFixture(seed: 21, in: 64, out: 72, n: 2, h: 8, w: 8)
        let plan = ConvolutionPlan(g)
        let y = plan.forward(x, weight: weight, weightVersion: 1, bias: b, training: true)
        XCTAssertFalse(plan.holdsInput)
        var planWeightGradient = Tensor(shape: weight.shape), planBiasGradient: Tensor? = Tensor(shape: b.shape)
        let dx = plan.backward(dy, weight: weight, weightVersion: 1, weightGradient: &planWeightGradient,
                               biasGradient: &planBiasGradient, inputGradient: true)
        var workspace: [Float] = [], kept: Winograd.KeptInput?
        XCTAssertEqual(y.scalars, Convolution.forward(x, weight: weight, bias: b, geometry: g, keeping: &kept, workspace: &workspace).scalars)
        var weightGradient = Tensor(shape: weight.shape), biasGradient: Tensor? = Tensor(shape: b.shape)
        let expected = Convolution.backward(dy, input: x, weight: weight, geometry: g, weightGradient: &weightGradient,
                                            biasGradient: &biasGradient, workspace: &workspace, kept: kept)
        XCTAssertEqual(dx.scalars, expected.scalars)
        XCTAssertEqual(planWeightGradient.scalars, weightGradient.scalars)
        XCTAssertEqual(planBiasGradient?.scalars, biasGradient?.scalars)

        let stridedGeometry = ConvolutionGeometry(inChannels: 64, outChannels: 72, kernel: 3, stride: 2, padding: 1)
        let strided = ConvolutionPlan(stridedGeometry)
        _ = strided.forward(x, weight: weight, weightVersion: 1, bias: b, training: true)
        XCTAssertTrue(strided.holdsInput)
    }

    func testStrideTwo() {
        check(ConvolutionGeometry(inChannels: 4, outChannels: 3, kernel: 3, stride: 2, padding: 1), n: 3, h: 9, w: 8)
    }

    func testStrideTwoWideRowsTakeTheVectorGather() {
        // Output rows of 19 and 20 columns: the eight-wide even-lane gather runs, then its scalar tail.
        check(ConvolutionGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 2, padding: 1), n: 2, h: 11, w: 38)
        check(ConvolutionGeometry(inChannels: 2, outChannels: 3, kernel: 7, stride: 2, padding: 3), n: 1, h: 9, w: 40)
    }

    func testPointwiseIsAPlainGEMM() {
        let g = ConvolutionGeometry(inChannels: 6, outChannels: 4, kernel: 1)
        XCTAssertTrue(g.isPointwise)
        check(g, n: 2, h: 5, w: 5, bias: false)
    }

    func testPointwiseStrideTwo() {
        check(ConvolutionGeometry(inChannels: 4, outChannels: 8, kernel: 1, stride: 2), n: 2, h: 7, w: 7, bias: false)
    }

    func testPointwiseStridedWideRowsTakeTheVectorSpread() {
        // Rows of 37 and 38 pixels: the sixteen-wide spread of the input gradient runs, then its scalar
        // tail, on odd and even widths; stride 3 takes the scalar spread.
        check(ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 1, stride: 2), n: 2, h: 9, w: 37, bias: false)
        check(ConvolutionGeometry(inChannels: 3, outChannels: 5, kernel: 1, stride: 2), n: 3, h: 6, w: 38)
        check(ConvolutionGeometry(inChannels: 2, outChannels: 4, kernel: 1, stride: 3), n: 2, h: 10, w: 20)
    }

    func testLargeKernelLargeStride() {
        // AlexNet's first layer in miniature: 11x11, stride 4, padding 2.
        check(ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: 11, stride: 4, padding: 2), n: 2, h: 23, w: 19)
    }

    func testRectangularKernelAndPadding() {
        let g = ConvolutionGeometry(inChannels: 2, outChannels: 3, kernel: (1, 7), stride: (1, 1), padding: (0, 3))
        check(g, n: 2, h: 5, w: 9)
        check(ConvolutionGeometry(inChannels: 2, outChannels: 3, kernel: (7, 1), stride: (2, 1), padding: (3, 0)), n: 2, h: 9, w: 5)
    }

    func testKernelWiderThanPaddedInputEdges() {
        // Columns whose every tap lands in padding: the unfold must write zeros, not read outside.
        check(ConvolutionGeometry(inChannels: 2, outChannels: 2, kernel: 5, stride: 3, padding: 2), n: 2, h: 2, w: 3)
    }

    func testImageGroupsGiveTheSameResult() {
        // A workspace limit of one image forces one GEMM per image; results must not change.
        let g = ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 1)
        check(g, n: 4, h: 6, w: 6, workspaceLimit: g.patchSize * 36)
        check(g, n: 5, h: 6, w: 6, workspaceLimit: g.patchSize * 36 * 2)
    }

    func testForwardGroupsSplitAcrossWorkersGiveTheSameResult() {
        // Groups of one and of two images, worker w taking groups w, w + workers, ... (five images:
        // the last group is short), for a stride-1, a stride-2 and a strided 1x1 convolution.
        for (g, h) in [(ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: 3, stride: 1, padding: 1), 6),
                       (ConvolutionGeometry(inChannels: 4, outChannels: 3, kernel: 3, stride: 2, padding: 1), 9),
                       (ConvolutionGeometry(inChannels: 4, outChannels: 8, kernel: 1, stride: 2), 7)] {
            let (ho, wo) = g.outputSize(height: h, width: h)
            for images in [1, 2] {
                var settings = EngineSettings()
                settings.convolution.minimumWorkerColumns = 1
                settings.convolution.workerGroupFloats = images * g.patchSize * ho * wo
                XCTAssertEqual(Convolution.workerGroupImages(n: 5, columnsPerImage: ho * wo, k: g.patchSize, settings: settings),
                               settings.workers > 1 ? images : nil)
                EngineSettings.with(settings) { check(g, n: 5, h: h, w: h) }
            }
        }
    }

    func testForwardBandsOfOutputRowsAcrossWorkersGiveTheSameResult() {
        // One image's unfolded input over a worker's group (the stem's case): bands of 1, 2 and 3 output
        // rows of a 7-row output (the last band short), three images, against the loops.
        for (g, h) in [(ConvolutionGeometry(inChannels: 3, outChannels: 4, kernel: 7, stride: 2, padding: 3), 13),
                       (ConvolutionGeometry(inChannels: 2, outChannels: 3, kernel: 3, stride: 1, padding: 1), 7)] {
            let (ho, wo) = g.outputSize(height: h, width: h)
            XCTAssertEqual(ho, 7)
            for rows in [1, 2, 3] {
                var settings = EngineSettings()
                settings.convolution.minimumWorkerColumns = 1
                settings.convolution.workerGroupFloats = rows * wo * g.patchSize
                XCTAssertEqual(Convolution.workerGroupImages(n: 3, columnsPerImage: ho * wo, k: g.patchSize, settings: settings),
                               settings.workers > 1 ? 1 : nil)
                XCTAssertEqual(Convolution.workerBandRows(outputHeight: ho, outputWidth: wo, k: g.patchSize, settings: settings), rows)
                EngineSettings.with(settings) { check(g, n: 3, h: h, w: h) }
                settings.convolution.bandsAcrossWorkers = false
                XCTAssertNil(Convolution.workerBandRows(outputHeight: ho, outputWidth: wo, k: g.patchSize, settings: settings))
            }
        }
    }

    func testOutputSize() {
        let g = ConvolutionGeometry(inChannels: 3, outChannels: 64, kernel: 7, stride: 2, padding: 3)
        XCTAssertTrue(g.outputSize(height: 128, width: 128) == (64, 64))
        XCTAssertTrue(ConvolutionGeometry(inChannels: 3, outChannels: 64, kernel: 11, stride: 4, padding: 2)
            .outputSize(height: 224, width: 224) == (55, 55))
    }
}
