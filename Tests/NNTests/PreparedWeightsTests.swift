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

    func testInferenceKeepsTheTransformedWeightsUntilTheWeightChanges() {
        let (conv, x) = layer()
        XCTAssertTrue(Winograd.applies(to: conv.geometry, outputPixels: 64))
        // A training pass transforms the weights afresh: the reference for each inference pass.
        let first = conv.forward(x, mode: .inference)
        XCTAssertEqual(first.scalars, conv.forward(x, mode: .training).scalars)
        XCTAssertEqual(conv.forward(x, mode: .inference).scalars, first.scalars, "the kept weights give the same output")

        // An in-place edit, as an optimiser step makes, and a whole new value, as a checkpoint load sets.
        conv.weight.value.scalars.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= 0.5 } }
        let halved = conv.forward(x, mode: .inference)
        XCTAssertNotEqual(halved.scalars, first.scalars)
        XCTAssertEqual(halved.scalars, conv.forward(x, mode: .training).scalars)
        conv.weight.value = Tensor(shape: conv.weight.value.shape, scalars: conv.weight.value.scalars.map { -$0 })
        let negated = conv.forward(x, mode: .inference)
        XCTAssertEqual(negated.scalars, conv.forward(x, mode: .training).scalars)
        XCTAssertNotEqual(negated.scalars, halved.scalars)
    }

    func testInferenceFollowsTheWinogradVariant() {
        let (conv, x) = layer()
        let saved = Winograd.variant
        defer { Winograd.variant = saved }
        for variant in Winograd.Variant.allCases + Winograd.Variant.allCases {
            Winograd.variant = variant
            XCTAssertEqual(conv.forward(x, mode: .inference).scalars, conv.forward(x, mode: .training).scalars, "\(variant)")
        }
    }

    /// The input gradient's transposed convolution reads the stored weights flipped and transposed in
    /// place: the same U, bit for bit, as from a flipped, transposed copy.
    func testFlippedTransposedWeightsAreReadInPlace() {
        var random = SeededRandom(seed: 5)
        let (co, ci) = (24, 16)
        let weight = Tensor(shape: [co, ci, 3, 3], scalars: (0..<(co * ci * 9)).map { _ in random.nextUniform() * 2 - 1 })
        var copy = Tensor(shape: [ci, co, 3, 3])
        for o in 0..<co { for i in 0..<ci { for k in 0..<9 { copy.scalars[(i * co + o) * 9 + k] = weight.scalars[(o * ci + i) * 9 + 8 - k] } } }
        let transposed = ConvolutionGeometry(inChannels: co, outChannels: ci, kernel: 3, stride: 1, padding: 1)
        let dy = Tensor(shape: [co, 3, 9, 7], scalars: (0..<(co * 3 * 63)).map { _ in random.nextUniform() * 2 - 1 })
        let saved = Winograd.variant
        defer { Winograd.variant = saved }
        for variant in Winograd.Variant.allCases {
            Winograd.variant = variant
            var workspace: [Float] = []
            let inPlace = Winograd.forward(dy, prepared: Winograd.prepare(weight, for: transposed, flippingAndTransposing: true),
                                           bias: nil, geometry: transposed, workspace: &workspace)
            let fromCopy = Winograd.forward(dy, prepared: Winograd.prepare(copy, for: transposed), bias: nil, geometry: transposed,
                                            workspace: &workspace)
            XCTAssertEqual(inPlace.shape, [ci, 3, 9, 7])
            XCTAssertEqual(inPlace.scalars, fromCopy.scalars, "\(variant)")
        }
    }
}

extension PreparedWeightsTests {
    /// Past the budget a layer transforms its weights on every pass (same output), and what a layer
    /// held comes back to the budget when it trains or goes away.
    func testTheBudgetCapsWhatLayersKeep() {
        let saved = PreparedWeightsBudget.limit
        defer { PreparedWeightsBudget.limit = saved }
        let before = PreparedWeightsBudget.held
        let bytes = 36 * 64 * 64 * 4
        PreparedWeightsBudget.limit = before + bytes
        do {
            let (a, x) = layer(), (b, _) = layer()
            let expected = a.forward(x, mode: .training)
            XCTAssertEqual(a.forward(x, mode: .inference).scalars, expected.scalars)
            XCTAssertEqual(PreparedWeightsBudget.held, before + bytes, "the first layer keeps its U")
            XCTAssertEqual(b.forward(x, mode: .inference).scalars, expected.scalars, "the second, over budget, transforms afresh")
            withExtendedLifetime(a) { XCTAssertEqual(PreparedWeightsBudget.held, before + bytes) }
            _ = a.forward(x, mode: .training)
            XCTAssertEqual(PreparedWeightsBudget.held, before)
            XCTAssertEqual(b.forward(x, mode: .inference).scalars, expected.scalars)
            withExtendedLifetime(b) { XCTAssertEqual(PreparedWeightsBudget.held, before + bytes, "now the second keeps it") }
        }
        XCTAssertEqual(PreparedWeightsBudget.held, before, "released when the layers go")
    }
}
