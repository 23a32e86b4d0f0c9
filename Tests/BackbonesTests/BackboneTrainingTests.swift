import Backbones
import Foundation
import NN
import Tensor
import XCTest

/// A training step of one backbone per family against torchvision's: the same formula-filled weights
/// and batch as BackboneNumericsTests (Fixtures/make_backbone_numerics.py), in training mode (batch
/// statistics; dropout 0 on both sides, as masks cannot match), binary cross-entropy on targets from the
/// formula. The loss must agree within 1e-4 and every parameter's gradient within 5% in norm and in
/// its dot product with a formula-filled probe (over its first 65,536 elements, which is all of them
/// but for the largest tensors): every layer's backward pass, wired in its network (a
/// branch or skip whose gradient is lost, doubled or misrouted is off by far more).
///
/// Why not tighter: a pre-activation within rounding of zero takes a different side of a ReLU in two
/// float32 implementations. Measured on ResNet-18: one element of layer2.0's residual sum is ±1e-7, so
/// channel 5's bias gradient there is 5% off torchvision's while every other channel agrees to 1e-5
/// (and torch's float32 and float64 agree to 8e-6). Each layer's own backward pass is checked to far
/// tighter bounds by finite differences (NNTests.LayerGradientTests).
final class BackboneTrainingTests: XCTestCase {
    struct Fixture: Decodable {
        struct Model: Decodable { let training_step: Step? }
        struct Step: Decodable {
            struct Gradient: Decodable { let norm: Double; let probe: Double }
            let probed: Int
            let input_shape: [Int]
            let loss: Double
            let gradients: [String: Gradient]
        }
        let models: [String: Model]
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/backbone_numerics.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// The registry's builders with dropout 0 (the only difference from `BackboneRegistry.make`).
    static func withoutDropout(_ name: String, random: inout SeededRandom) -> Layer {
        switch name {
        case "lenet5": LeNet.make(random: &random)
        case "alexnet": AlexNet.make(dropout: 0, random: &random)
        case "vgg11_bn": VGG.make(.vgg11, batchNorm: true, dropout: 0, random: &random)
        case "resnet18": ResNet.make(.resNet18, random: &random)
        case "googlenet": GoogLeNet.make(dropout: 0, random: &random)
        default: preconditionFailure("no dropout-free builder for \(name)")
        }
    }

    func testATrainingStepGivesTorchvisionsLossAndGradients() throws {
        let trained = Self.fixture.models.filter { $0.value.training_step != nil }.keys.sorted()
        XCTAssertEqual(trained, ["alexnet", "googlenet", "lenet5", "resnet18", "vgg11_bn"])
        try EngineSettings.adjusting({ $0.winograd.enabled = false }) {  // VGG's wide layers: see BackboneNumericsTests
            for name in trained {
                let started = Date()
                defer { print("training step \(name): \(Date().timeIntervalSince(started)) s") }
                let step = try XCTUnwrap(Self.fixture.models[name]?.training_step)
                var fill = FormulaFill()
                var random = SeededRandom.skippingWeightInitialization(seed: 1)
                let model = Self.withoutDropout(name, random: &random)
                fill.fill(model)
                let shape = step.input_shape, n = shape[0]
                let input = fill.tensor(name: "input", shape: shape, kind: .input).swappingLeadingAxes()
                let r = fill.tensor(name: "targets", shape: [n, 17], kind: .small)  // 0.2 r, [N, 17]
                let targets = Tensor(shape: [n, 17], scalars: r.scalars.map { $0 > 0.2 * 0.2 ? 1 : 0 }).transposed()

                let (loss, gradient) = BinaryCrossEntropy().lossAndGradient(logits: model.forward(input, mode: .training),
                                                                            targets: targets)
                XCTAssertEqual(Double(loss), step.loss, accuracy: 1e-4 * step.loss, "\(name): loss")
                model.zeroGradients()
                _ = model.backward(gradient)

                let parameters = model.namedParameters
                // A gradient this far below the largest is zero up to rounding on both sides (a convolution's
                // bias before batch norm).
                let floor = 1e-5 * (step.gradients.values.map(\.norm).max() ?? 0)
                XCTAssertEqual(Set(parameters.map(\.name)), Set(step.gradients.keys), "\(name): parameter names")
                for (parameterName, parameter) in parameters {
                    guard let expected = step.gradients[parameterName] else { continue }
                    let g = parameter.gradient.scalars.prefix(step.probed)
                    let probe = fill.tensor(name: "probe:" + parameterName, shape: [g.count], kind: .input).scalars
                    let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                    let dot = zip(g, probe).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                    let probeNorm = probe.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                    XCTAssertEqual(norm, expected.norm, accuracy: 5e-2 * expected.norm + floor, "\(name): \(parameterName) gradient norm")
                    XCTAssertEqual(dot, expected.probe, accuracy: (5e-2 * expected.norm + floor) * probeNorm,
                                   "\(name): \(parameterName) gradient · probe")
                }
            }
        }
    }
}
