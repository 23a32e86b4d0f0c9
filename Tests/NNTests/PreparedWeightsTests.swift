import NN
import Tensor
import XCTest

/// A convolution in inference keeps Winograd's transformed weights between batches; they must follow
/// every change of the weight and of the algorithm.
final class PreparedWeightsTests: XCTestCase {
    private func layer() -> (Convolution2D, Tensor) {
        var random = SeededRandom(seed: 21)
        let conv = Convolution2D(64, 64, kernel: 3, padding: 1, random: &random)
        let x = Tensor(shape: [64, 2, 8, 8], scalars: (0..<(64 * 2 * 64)).map { _ in random.nextUniform() * 2 - 1 })
        return (conv, x)
    }

    /// The layer's output with U made afresh from its current weight: the reference for kept U.
    private func fresh(_ conv: Convolution2D, _ x: Tensor) -> Tensor {
        var workspace: [Float] = []
        return Convolution.forward(x, weight: conv.weight.value, bias: conv.bias?.value, geometry: conv.geometry,
                                   workspace: &workspace)
    }

    func testInferenceKeepsTheTransformedWeightsUntilTheWeightChanges() {
        let (conv, x) = layer()
        XCTAssertTrue(EngineSettings.current.winograd.applies(to: conv.geometry, outputPixels: 64))
        let first = conv.forward(x, mode: .inference)
        XCTAssertEqual(first.scalars, fresh(conv, x).scalars)
        XCTAssertEqual(conv.forward(x, mode: .inference).scalars, first.scalars, "the kept weights give the same output")

        // An in-place edit, as an optimiser step makes, and a whole new value, as a checkpoint load sets.
        conv.weight.value.scalars.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= 0.5 } }
        let halved = conv.forward(x, mode: .inference)
        XCTAssertNotEqual(halved.scalars, first.scalars)
        XCTAssertEqual(halved.scalars, fresh(conv, x).scalars)
        conv.weight.value = Tensor(shape: conv.weight.value.shape, scalars: conv.weight.value.scalars.map { -$0 })
        let negated = conv.forward(x, mode: .inference)
        XCTAssertEqual(negated.scalars, fresh(conv, x).scalars)
        XCTAssertNotEqual(negated.scalars, halved.scalars)
    }

    func testInferenceFollowsTheWinogradVariant() {
        let (conv, x) = layer()
        for variant in Winograd.Variant.allCases + Winograd.Variant.allCases {
            EngineSettings.adjusting({ $0.winograd.variant = variant }) {
                XCTAssertEqual(conv.forward(x, mode: .inference).scalars, fresh(conv, x).scalars, "\(variant)")
            }
        }
    }

    /// A training step keeps U from its forward pass for the input gradient: the same gradients, bit for
    /// bit, as the convolution's backward pass making U afresh, also when the weight changed in between
    /// (U is then made again) and after an optimiser-like step (the next forward pass re-makes U).
    func testTrainingKeepsTheTransformedWeightsForTheInputGradient() {
        let (conv, x) = layer()
        var random = SeededRandom(seed: 8)
        let dy = Tensor(shape: x.shape, scalars: (0..<x.count).map { _ in random.nextUniform() * 2 - 1 })
        func expected() -> (dx: Tensor, dw: Tensor) {
            var workspace: [Float] = []
            var dw = Tensor(shape: conv.weight.value.shape), db: Tensor? = Tensor(shape: [64])
            let dx = Convolution.backward(dy, input: x, weight: conv.weight.value, geometry: conv.geometry, weightGradient: &dw,
                                          biasGradient: &db, workspace: &workspace)
            return (dx, dw)
        }
        func step(editingBetween edit: Bool) {
            conv.weight.gradient = Tensor(shape: conv.weight.value.shape)
            XCTAssertEqual(conv.forward(x, mode: .training).scalars, fresh(conv, x).scalars)
            if edit { conv.weight.value.scalars.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= -0.5 } } }
            let dx = conv.backward(dy), reference = expected()
            XCTAssertEqual(dx.scalars, reference.dx.scalars, edit ? "weight edited after the forward pass" : "kept U")
            XCTAssertEqual(conv.weight.gradient.scalars, reference.dw.scalars)
        }
        step(editingBetween: false)
        conv.weight.value.scalars.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] += 0.01 } }
        step(editingBetween: false)
        step(editingBetween: true)
    }
}

extension PreparedWeightsTests {
    /// Past the budget a layer transforms its weights on every pass (same output), and what a layer
    /// held comes back to the budget when no kept form serves its input (the direct path) or the
    /// layer goes away.
    func testTheBudgetCapsWhatLayersKeep() {
        let bytes = 36 * 64 * 64 * 4
        let budget = PreparedWeightsBudget(limit: bytes), before = 0
        EngineSettings.adjusting({ $0.preparedWeights = budget }) {
            let (a, x) = layer(), (b, _) = layer()
            let expected = fresh(a, x)
            XCTAssertEqual(a.forward(x, mode: .inference).scalars, expected.scalars)
            XCTAssertEqual(budget.held, before + bytes, "the first layer keeps its U")
            XCTAssertEqual(b.forward(x, mode: .inference).scalars, expected.scalars, "the second, over budget, transforms afresh")
            withExtendedLifetime(a) { XCTAssertEqual(budget.held, before + bytes) }
            // 3x3 maps: too few output pixels for Winograd, and the small-map taps would do 0.6 of the
            // direct path's products (inference takes them at 0.5 or less): the direct path keeps nothing.
            let tiny = Tensor(shape: [64, 1, 3, 3], scalars: [Float](repeating: 0.5, count: 576))
            _ = a.forward(tiny, mode: .inference)
            XCTAssertEqual(budget.held, before)
            XCTAssertEqual(b.forward(x, mode: .inference).scalars, expected.scalars)
            withExtendedLifetime(b) { XCTAssertEqual(budget.held, before + bytes, "now the second keeps it") }
        }
        XCTAssertEqual(budget.held, before, "released when the layers go")
    }
}
