@testable import Backbones
import NN
import Tensor
import XCTest

/// Inference with batch norms, ReLUs and residual sums in the convolutions' output passes gives what
/// every layer's own pass gives, for the backbones that have them, with batch-norm statistics that a
/// few training steps moved away from their initial values.
final class FusedEpilogueTests: XCTestCase {
    private func probabilities(_ model: Layer, _ x: Tensor, fused: Bool) -> Tensor {
        EngineSettings.adjusting({ $0.fusedInferenceEpilogues = fused }) { model.forward(x, mode: .inference) }
    }

    private func check(_ name: String, size: Int, expectResiduals: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        var random = SeededRandom(seed: 5)
        let model = try XCTUnwrap(BackboneRegistry.make(name, bands: 3, classes: 17, random: &random), file: file, line: line)
        var folded = 0, tails = 0, pools = 0
        model.forEachLayer { layer in
            if (layer as? Convolution2D)?.foldedBatchNorm != nil { folded += 1 }
            if (layer as? Convolution2D)?.foldedMaxPool != nil { pools += 1 }
            if (layer as? Residual)?.fusedTail != nil { tails += 1 }
        }
        XCTAssertGreaterThan(folded, 0, "\(name): batch norms folded", file: file, line: line)
        // A ResNet's stem and VGG-BN's blocks (conv, bn, ReLU, max pool) pool in their convolution.
        XCTAssertEqual(pools > 0, name.hasPrefix("resnet") || name.hasPrefix("vgg"), "\(name): max pools folded", file: file, line: line)
        XCTAssertEqual(tails > 0, expectResiduals, "\(name): residual sums fused", file: file, line: line)

        let n = 2
        let x = Tensor(shape: [3, n, size, size], scalars: (0..<(3 * n * size * size)).map { _ in random.nextUniform() * 2 - 1 })
        // Training passes move the running statistics off 0 and 1 (no optimiser: the weights stay).
        for _ in 0..<3 { _ = model.forward(x, mode: .training); _ = model.backward(Tensor(shape: [17, n], repeating: 0.01)) }
        let separate = probabilities(model, x, fused: false), fused = probabilities(model, x, fused: true)
        XCTAssertEqual(fused.shape, separate.shape, file: file, line: line)
        XCTAssertLessThan(fused.maxDifference(from: separate).absolute, 1e-4, "\(name)", file: file, line: line)
        XCTAssertEqual(probabilities(model, x, fused: true).scalars, fused.scalars, "\(name): the same again", file: file, line: line)
    }

    func testResNets() throws {
        try check("resnet18", size: 64, expectResiduals: true)  // layer4 on 2x2 maps: the small-map path
        try check("resnet18", size: 32, expectResiduals: true)  // 1x1 maps
        try check("resnet50", size: 32, expectResiduals: true)
    }

    func testVGGAndGoogLeNet() throws {
        try check("vgg11_bn", size: 32, expectResiduals: false)
        try check("googlenet", size: 32, expectResiduals: false)
    }

    /// Training never takes the fused path: a training pass's output is the same with it on or off.
    func testTrainingIsUnchanged() throws {
        var random = SeededRandom(seed: 6)
        let model = try XCTUnwrap(BackboneRegistry.make("resnet18", bands: 3, classes: 17, random: &random))
        let x = Tensor(shape: [3, 2, 32, 32], scalars: (0..<(3 * 2 * 32 * 32)).map { _ in random.nextUniform() })
        func train(_ fused: Bool) -> Tensor {
            EngineSettings.adjusting({ $0.fusedInferenceEpilogues = fused }) { model.forward(x, mode: .training) }
        }
        let first = train(true)
        XCTAssertEqual(train(false).scalars, first.scalars)
    }
}
