import NN
import Tensor
@testable import Training
import XCTest

/// The training step's NaN/inf check of the gradients, done layer by layer during the backward pass.
final class FiniteGradientWatchTests: XCTestCase {
    /// Inputs near Float's largest make the first layer's weight gradient (a sum over the batch of
    /// input × output gradient) overflow while the forward pass stays finite (weights of 1e-38).
    func twoLayers(overflowing: Bool) -> (model: Layer, input: Tensor) {
        var random = SeededRandom(seed: 3)
        let first = Linear(4, 3, random: &random), second = Linear(3, 2, random: &random)
        if overflowing {
            first.weight.value = Tensor(shape: [3, 4], repeating: 1e-38)
            second.weight.value = Tensor(shape: [2, 3], repeating: 1)
        }
        let input = Tensor(shape: [4, 5], repeating: overflowing ? 3e38 : 0.5)
        return (Sequential([first, ReLU(), second]), input)
    }

    func watched(_ model: Layer, _ input: Tensor) -> Bool {
        let output = model.forward(input, mode: .training)
        XCTAssertTrue(output.allFinite, "the forward pass is finite")
        model.zeroGradients()
        return FiniteGradientWatch.backward(model, Tensor(shape: output.shape, repeating: 1))
    }

    func testAGradientThatOverflowsIsCaughtAndFiniteOnesPass() {
        let (finite, input) = twoLayers(overflowing: false)
        XCTAssertTrue(watched(finite, input))
        let (overflowing, hugeInput) = twoLayers(overflowing: true)
        XCTAssertFalse(watched(overflowing, hugeInput))
        XCTAssertFalse(overflowing.parameters[0].gradient.allFinite, "the first layer's weight gradient overflowed")
        XCTAssertTrue(overflowing.parameters[2].gradient.allFinite, "the second layer's did not")
    }

    /// A model that is one layer reports no leaf to the watch: its gradients are checked after the pass.
    func testAModelThatIsOneLayerIsCheckedAfterThePass() {
        var random = SeededRandom(seed: 4)
        let layer = Linear(4, 2, random: &random)
        layer.weight.value = Tensor(shape: [2, 4], repeating: 1e-38)
        XCTAssertFalse(watched(layer, Tensor(shape: [4, 5], repeating: 3e38)))
        XCTAssertTrue(watched(layer, Tensor(shape: [4, 5], repeating: 0.5)))
    }
}
